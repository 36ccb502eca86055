list(APPEND torch_sources
  conformance/adapter_conformance.cpp)
