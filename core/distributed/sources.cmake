list(APPEND torch_sources
  distributed/communicator.cpp
  distributed/gradient_sync.cpp
  distributed/data_parallel.cpp)
list(APPEND plain_sources
  distributed/distributed_config.cpp)
# c10d's Gloo process group includes Gloo's headers (Debian: libgloo-dev; libtorch-dev does not pull them in).
find_path(TUNEBENCH_GLOO_INCLUDE_DIR gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS})
if(NOT TUNEBENCH_GLOO_INCLUDE_DIR)
  message(FATAL_ERROR "Gloo's headers (gloo/algorithm.h) were not found: install libgloo-dev (Debian), or set "
                      "TUNEBENCH_GLOO_INCLUDE_DIR to headers of the Gloo your LibTorch was built with")
endif()
if(NOT TUNEBENCH_GLOO_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
  set_property(SOURCE distributed/communicator.cpp APPEND PROPERTY INCLUDE_DIRECTORIES ${TUNEBENCH_GLOO_INCLUDE_DIR})
endif()
