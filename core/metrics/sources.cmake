list(APPEND plain_sources
  metrics/diversity.cpp)
