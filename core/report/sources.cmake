list(APPEND plain_sources
  report/metrics_export.cpp
  report/report_data.cpp)
list(APPEND torch_sources
  report/environment.cpp)
