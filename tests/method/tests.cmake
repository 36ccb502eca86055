tunebench_add_test(test_parameter_schema SOURCES method/test_parameter_schema.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_adapter_conformance SOURCES method/test_adapter_conformance.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_adapter_conformance tunebench_plugin_full tunebench_plugin_lora tunebench_plugin_freeze
                 tunebench_plugin_bitfit tunebench_plugin_prompt_tuning tunebench_plugin_prefix_tuning)
tunebench_add_test(test_prompt_prefix SOURCES method/test_prompt_prefix.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_prompt_prefix tunebench_plugin_prompt_tuning tunebench_plugin_prefix_tuning)
