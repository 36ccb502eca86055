# The fuzz targets' entry points in the normal build: every regression input (crashes libFuzzer found, fixed
# since: tests/fuzz/regressions/<target>/) and every seed through the same checks.
tunebench_add_test(test_fuzz_regressions
  SOURCES fuzz/test_fuzz_regressions.cpp fuzz/safetensors_header_target.cpp fuzz/record_reader_target.cpp
          fuzz/tokenizer_target.cpp fuzz/folder_input.cpp fuzz/chat_template_target.cpp fuzz/run_config_target.cpp
          fuzz/gguf_target.cpp fuzz/peft_config_target.cpp
          fuzz/sweep_file_target.cpp fuzz/pipeline_file_target.cpp
  LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_fuzz_regressions tunebench-cli) # tunebench-cli builds every plugin

# With TUNEBENCH_FUZZ=ON (tests/model/tests.cmake builds tests/fuzz with clang), a short libFuzzer run of each
# target besides the three registered with their modules (fuzz_safetensors_header, fuzz_jsonl_reader,
# fuzz_csv_reader); scripts/fuzz runs them all at length.
if(TUNEBENCH_FUZZ)
  foreach(target IN ITEMS tokenizer_json vocab_merges chat_template run_config gguf sweep_file pipeline_file)
    set(dict)
    if(EXISTS ${PROJECT_SOURCE_DIR}/tests/fuzz/${target}.dict)
      set(dict -dict=${PROJECT_SOURCE_DIR}/tests/fuzz/${target}.dict)
    endif()
    file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz/corpus-${target})
    add_test(NAME fuzz_${target}
             COMMAND ${PROJECT_BINARY_DIR}/fuzz/fuzz_${target} ${dict} -max_total_time=20 -timeout=10
                     -rss_limit_mb=2048 -print_final_stats=1 ${PROJECT_BINARY_DIR}/fuzz/corpus-${target}
                     ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/regressions/${target})
    set_tests_properties(fuzz_${target} PROPERTIES LABELS slow TIMEOUT 120)
  endforeach()
  add_dependencies(test_fuzz_regressions tunebench_fuzz)
endif()
