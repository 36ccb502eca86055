set(reward_plugin_targets tunebench_plugin_reward_exact_match tunebench_plugin_reward_numeric
    tunebench_plugin_reward_regex tunebench_plugin_reward_length tunebench_plugin_reward_json_valid)
tunebench_add_test(test_rewards SOURCES reward/test_rewards.cpp LABELS unit LIBRARIES tunebench_core)
add_dependencies(test_rewards ${reward_plugin_targets} tunebench_plugin_full tunebench_plugin_sft)
tunebench_add_test(test_grpo_loss SOURCES reward/test_grpo_loss.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_grpo_run SOURCES reward/test_grpo_run.cpp LABELS integration LIBRARIES tunebench_core TORCH
                   TIMEOUT 600)
add_dependencies(test_grpo_run ${reward_plugin_targets} tunebench_plugin_grpo tunebench_plugin_full
                 tunebench_plugin_lora)
tunebench_add_test(test_grpo_reference SOURCES reward/test_grpo_reference.cpp LABELS integration reference
                   LIBRARIES tunebench_core TORCH)
tunebench_add_test(bench_grpo SOURCES bench/bench_grpo.cpp LABELS bench LIBRARIES tunebench_core TORCH TIMEOUT 900)
add_dependencies(bench_grpo ${reward_plugin_targets} tunebench_plugin_grpo tunebench_plugin_lora)
tunebench_add_test(test_reward_model SOURCES reward/test_reward_model.cpp LABELS integration LIBRARIES tunebench_core
                   TORCH)
add_dependencies(test_reward_model tunebench_plugin_reward_model_objective tunebench_plugin_reward_model
                 tunebench_plugin_grpo tunebench_plugin_full tunebench_plugin_lora)
tunebench_add_test(test_reward_model_export SOURCES reward/test_reward_model_export.cpp LABELS integration reference
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_reward_model_export tunebench_plugin_reward_model_objective tunebench_plugin_reward_model
                 tunebench_plugin_lora)
