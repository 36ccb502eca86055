tunebench_add_test(test_optimizer SOURCES train/test_optimizer.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_lr_schedule SOURCES train/test_lr_schedule.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_trainer SOURCES train/test_trainer.cpp LABELS integration LIBRARIES tunebench_core TORCH
                   TIMEOUT 600)
add_dependencies(test_trainer tunebench_plugin_full tunebench_plugin_lora tunebench_plugin_chain_of_lora tunebench_plugin_sft
                 tunebench-cli)
