list(APPEND plain_sources
  method/parameter_schema.cpp)
