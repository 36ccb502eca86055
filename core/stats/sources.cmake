# Statistics across runs (seed groups, two-method tests): plain C++, no Qt, no LibTorch.
list(APPEND plain_sources
  stats/student_t.cpp
  stats/describe.cpp
  stats/compare.cpp)
