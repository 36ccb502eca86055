tunebench_add_test(test_parameter_schema SOURCES method/test_parameter_schema.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_adapter_conformance SOURCES method/test_adapter_conformance.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_adapter_conformance tunebench_plugin_full tunebench_plugin_lora tunebench_plugin_freeze
                 tunebench_plugin_bitfit tunebench_plugin_hft tunebench_plugin_ia3 tunebench_plugin_sparse)
tunebench_add_test(test_hft_ia3_sparse SOURCES method/test_hft_ia3_sparse.cpp LABELS unit LIBRARIES tunebench_core
                   TORCH TIMEOUT 600)
add_dependencies(test_hft_ia3_sparse tunebench_plugin_hft tunebench_plugin_ia3 tunebench_plugin_sparse
                 tunebench_plugin_sft)
