list(APPEND plain_sources
  metrics/diversity.cpp)
list(APPEND torch_sources
  metrics/weight_space.cpp)
list(APPEND torch_sources
  metrics/forgetting.cpp
  metrics/sample_measures.cpp)
