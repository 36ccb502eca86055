list(APPEND torch_sources
  train/optimizer.cpp
  train/gradients.cpp)
list(APPEND plain_sources
  train/lr_schedule.cpp)
