tunebench_add_test(test_diversity SOURCES metrics/test_diversity.cpp LABELS unit LIBRARIES tunebench_core)
