tunebench_add_test(test_diversity SOURCES metrics/test_diversity.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_weight_space SOURCES metrics/test_weight_space.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_forgetting SOURCES metrics/test_forgetting.cpp LABELS integration LIBRARIES tunebench_core
                   TORCH TIMEOUT 600)
add_dependencies(test_forgetting tunebench-cli) # the CLI and the plugins
tunebench_add_test(test_training_measures SOURCES metrics/test_training_measures.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH TIMEOUT 600)
add_dependencies(test_training_measures tunebench-cli)
tunebench_add_test(bench_measures SOURCES metrics/bench_measures.cpp LABELS bench LIBRARIES tunebench_core TORCH
                   TIMEOUT 1800)
add_dependencies(bench_measures tunebench-cli)
