list(APPEND plain_sources
  data/record_reader.cpp
  data/dataset_format.cpp
  data/dataset_import.cpp
  data/example_encoder.cpp)
