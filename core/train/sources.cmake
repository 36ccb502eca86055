list(APPEND torch_sources
  train/optimizer.cpp
  train/gradients.cpp
  train/batching.cpp
  train/checkpoint.cpp
  train/trainer.cpp
  train/training_run.cpp
  train/training_examples.cpp
  train/trainer_models.cpp
  train/teacher.cpp
  train/mezo.cpp
  train/measures.cpp
  train/run_adapter.cpp
  train/adapter_attach.cpp
  train/run_estimate.cpp
  train/throughput.cpp)
list(APPEND plain_sources
  train/lr_schedule.cpp
  train/train_config.cpp
  train/run_paths.cpp)
