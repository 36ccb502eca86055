tunebench_add_test(test_evaluation SOURCES evaluation/test_evaluation.cpp LABELS unit LIBRARIES tunebench_core TORCH)
