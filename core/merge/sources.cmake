list(APPEND torch_sources
  merge/merge_methods.cpp
  merge/validation_loss.cpp
  merge/merge_job.cpp
  merge/run_merge.cpp)
