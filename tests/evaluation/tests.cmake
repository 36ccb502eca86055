tunebench_add_test(test_evaluation SOURCES evaluation/test_evaluation.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_evaluation_runs SOURCES evaluation/test_evaluation_runs.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH TIMEOUT 600)
add_dependencies(test_evaluation_runs tunebench-cli) # the CLI and the plugins
