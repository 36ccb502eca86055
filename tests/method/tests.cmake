tunebench_add_test(test_parameter_schema SOURCES method/test_parameter_schema.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_adapter_conformance SOURCES method/test_adapter_conformance.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_adapter_conformance tunebench_plugin_full tunebench_plugin_lora tunebench_plugin_freeze
                 tunebench_plugin_bitfit tunebench_plugin_rslora tunebench_plugin_dora tunebench_plugin_pissa
                 tunebench_plugin_chain_of_lora)
tunebench_add_test(test_lora_family SOURCES method/test_lora_family.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_lora_family tunebench_plugin_lora tunebench_plugin_rslora tunebench_plugin_dora
                 tunebench_plugin_pissa tunebench_plugin_chain_of_lora)
