tunebench_add_test(test_record_reader SOURCES data/test_record_reader.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_dataset_import SOURCES data/test_dataset_import.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_dataset_cli SOURCES data/test_dataset_cli.cpp LABELS integration LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_example_encoder SOURCES data/test_example_encoder.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_dataset_select SOURCES data/test_dataset_select.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_model_selection SOURCES data/test_model_selection.cpp LABELS unit LIBRARIES tunebench_core TORCH)
# The JSONL and CSV reader fuzz entry point under a deterministic mutator (the
# GCC build's stand-in for libFuzzer; TUNEBENCH_FUZZ=ON also runs the real one).
tunebench_add_test(test_record_reader_fuzz SOURCES data/test_record_reader_fuzz.cpp fuzz/record_reader_target.cpp
                   LABELS slow LIBRARIES tunebench_core)
if(TUNEBENCH_FUZZ)
  add_dependencies(test_record_reader_fuzz tunebench_fuzz)
  foreach(reader IN ITEMS jsonl csv)
    file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz/corpus-${reader})
    add_test(NAME fuzz_${reader}_reader
             COMMAND ${PROJECT_BINARY_DIR}/fuzz/fuzz_${reader}_reader -dict=${PROJECT_SOURCE_DIR}/tests/fuzz/${reader}.dict
                     -max_total_time=60 -print_final_stats=1 ${PROJECT_BINARY_DIR}/fuzz/corpus-${reader}
                     ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${reader}_reader)
    set_tests_properties(fuzz_${reader}_reader PROPERTIES LABELS slow TIMEOUT 300)
  endforeach()
endif()
tunebench_add_test(bench_dataset_import SOURCES data/bench_dataset_import.cpp LABELS bench LIBRARIES tunebench_core
                   TIMEOUT 600)
# A 100 MB JSONL line and config, a 10-million-token text, a tokenizer with a million merges through tunebench-cli,
# each child's peak RSS against the bounds docs/architecture.md states.
tunebench_add_test(test_oversized_inputs SOURCES data/test_oversized_inputs.cpp LABELS slow
                   LIBRARIES tunebench_core TORCH TIMEOUT 900)
add_dependencies(test_oversized_inputs tunebench-cli)
