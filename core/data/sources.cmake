list(APPEND plain_sources
  data/record_reader.cpp
  data/dataset_format.cpp
  data/dataset_import.cpp
  data/dataset_select.cpp
  data/dataset_stats.cpp
  data/example_encoder.cpp)
list(APPEND torch_sources
  data/model_selection.cpp)
