# Tokenizer tests (core/tokenizer). Paths are relative to tests/.
tunebench_add_test(test_tokenizer_components SOURCES tokenizer/test_tokenizer_components.cpp LABELS unit
                   LIBRARIES tunebench_core)
tunebench_add_test(test_tokenizer_errors SOURCES tokenizer/test_tokenizer_errors.cpp LABELS unit
                   LIBRARIES tunebench_core)
# Compares with transformers and tokenizers (tests/reference/tokenize_reference.py) on the shared
# real tokenizers and on tokenizers trained at test time (train_tokenizers.py); drives the CLI.
tunebench_add_test(test_tokenizer_parity SOURCES tokenizer/test_tokenizer_parity.cpp LABELS integration reference
                   LIBRARIES tunebench_core TIMEOUT 600)
target_compile_definitions(test_tokenizer_parity PRIVATE TUNEBENCH_CLI="$<TARGET_FILE:tunebench-cli>")
add_dependencies(test_tokenizer_parity tunebench-cli)
# Against the `tokenizers` library (tokenize_reference.py --bench) on the shared real tokenizers.
tunebench_add_test(bench_tokenizer SOURCES bench/bench_tokenizer.cpp LABELS bench reference LIBRARIES tunebench_core
                   TIMEOUT 900)
