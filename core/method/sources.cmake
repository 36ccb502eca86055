list(APPEND plain_sources
  method/parameter_schema.cpp
  method/plugin_registry.cpp)
