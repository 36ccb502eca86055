tunebench_add_test(test_optimizer SOURCES train/test_optimizer.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_lr_schedule SOURCES train/test_lr_schedule.cpp LABELS unit LIBRARIES tunebench_core)
