tunebench_add_test(test_merge_methods SOURCES merge/test_merge_methods.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_merge_runs SOURCES merge/test_merge_runs.cpp LABELS integration LIBRARIES tunebench_core TORCH
                   TIMEOUT 600)
add_dependencies(test_merge_runs tunebench-cli) # tunebench-cli builds every plugin
tunebench_add_test(test_merge_job SOURCES merge/test_merge_job.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_merge_job tunebench-cli) # tunebench-cli builds every plugin
