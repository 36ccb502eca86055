# Model runtime tests (core/model). Paths relative to tests/.
tunebench_add_test(test_safetensors SOURCES model/test_safetensors.cpp LABELS unit LIBRARIES tunebench_core TORCH)
# The fuzz target's entry point under a deterministic mutator (the GCC build's
# stand-in for libFuzzer; TUNEBENCH_FUZZ=ON builds the real one below).
tunebench_add_test(test_safetensors_fuzz SOURCES model/test_safetensors_fuzz.cpp fuzz/safetensors_header_target.cpp
                   LABELS slow LIBRARIES tunebench_core TORCH)

option(TUNEBENCH_FUZZ "Build tests/fuzz with clang and libFuzzer and register a slow test that runs it" OFF)
if(TUNEBENCH_FUZZ)
  include(ExternalProject)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(fuzz_compiler ${CMAKE_CXX_COMPILER})
  else()
    find_program(fuzz_compiler NAMES clang++ clang++-14 REQUIRED)
  endif()
  set(fuzz_dir ${PROJECT_BINARY_DIR}/fuzz)
  ExternalProject_Add(tunebench_fuzz
    SOURCE_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz
    BINARY_DIR ${fuzz_dir}
    CMAKE_ARGS -DCMAKE_CXX_COMPILER=${fuzz_compiler} -DCMAKE_BUILD_TYPE=RelWithDebInfo
    INSTALL_COMMAND ""
    BUILD_ALWAYS ON)
  add_dependencies(test_safetensors_fuzz tunebench_fuzz)
  # A minute of libFuzzer from the seed corpus; the working corpus lives in the build tree.
  file(MAKE_DIRECTORY ${fuzz_dir}/corpus)
  add_test(NAME fuzz_safetensors_header
           COMMAND ${fuzz_dir}/fuzz_safetensors_header -dict=${PROJECT_SOURCE_DIR}/tests/fuzz/safetensors_header.dict
                   -max_total_time=60 -print_final_stats=1 ${fuzz_dir}/corpus
                   ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/safetensors_header)
  set_tests_properties(fuzz_safetensors_header PROPERTIES LABELS slow TIMEOUT 300)
endif()
tunebench_add_test(test_model_config SOURCES model/test_model_config.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_rope SOURCES model/test_rope.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_architectures SOURCES model/test_architectures.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_generate SOURCES model/test_generate.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_model_folder SOURCES model/test_model_folder.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_model_cli SOURCES model/test_model_cli.cpp LABELS integration LIBRARIES tunebench_core TORCH)
add_dependencies(test_model_cli tunebench-cli)
tunebench_add_test(bench_model SOURCES model/bench_model.cpp LABELS bench LIBRARIES tunebench_core TORCH TIMEOUT 600)
tunebench_add_test(test_checkpointing SOURCES model/test_checkpointing.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_linear_cross_entropy SOURCES model/test_linear_cross_entropy.cpp LABELS unit LIBRARIES tunebench_core TORCH)
