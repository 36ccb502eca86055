list(APPEND plain_sources
  sweep/sweep_spec.cpp
  sweep/sweep_store.cpp
  sweep/early_stopping.cpp
  sweep/sweep_summary.cpp)
