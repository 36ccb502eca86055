tunebench_add_test(test_diversity SOURCES metrics/test_diversity.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_weight_space SOURCES metrics/test_weight_space.cpp LABELS unit LIBRARIES tunebench_core TORCH)
