tunebench_add_test(test_parameter_schema SOURCES method/test_parameter_schema.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_adapter_conformance SOURCES method/test_adapter_conformance.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_adapter_conformance tunebench-cli) # tunebench-cli builds every plugin
tunebench_add_test(test_preference_objectives SOURCES method/test_preference_objectives.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH TIMEOUT 600)
add_dependencies(test_preference_objectives tunebench-cli)
tunebench_add_test(test_lora_family SOURCES method/test_lora_family.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_lora_family tunebench-cli)
tunebench_add_test(test_hft_ia3_sparse SOURCES method/test_hft_ia3_sparse.cpp LABELS unit LIBRARIES tunebench_core
                   TORCH TIMEOUT 600)
add_dependencies(test_hft_ia3_sparse tunebench-cli)
tunebench_add_test(test_prompt_prefix SOURCES method/test_prompt_prefix.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_prompt_prefix tunebench-cli)
tunebench_add_test(bench_preference SOURCES bench/bench_preference.cpp LABELS bench LIBRARIES tunebench_core TORCH
                   TIMEOUT 1800)
add_dependencies(bench_preference tunebench-cli)
tunebench_add_test(test_objective_parity SOURCES method/test_objective_parity.cpp LABELS integration reference
                   LIBRARIES tunebench_core TORCH TIMEOUT 300)
add_dependencies(test_objective_parity tunebench-cli)

# Plugin libraries that misbehave, for test_plugin_registry: bad_plugins/ holds one that crashes while loading,
# one that ends the process, and three the loader refuses; bad_plugins_hang/ one whose loading never finishes.
foreach(bad IN ITEMS crash exit noentry oldapi peftobjective hang)
  set(folder bad_plugins)
  if(bad STREQUAL "hang")
    set(folder bad_plugins_hang)
  endif()
  add_library(tunebench_bad_${bad} MODULE method/bad_plugins/${bad}.cpp)
  target_link_libraries(tunebench_bad_${bad} PRIVATE tunebench_core)
  set_target_properties(tunebench_bad_${bad} PROPERTIES OUTPUT_NAME tunebench_${bad} PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/${folder})
  list(APPEND bad_plugin_targets tunebench_bad_${bad})
endforeach()
tunebench_add_test(test_plugin_registry SOURCES method/test_plugin_registry.cpp LABELS integration
                   LIBRARIES tunebench_core)
add_dependencies(test_plugin_registry tunebench-cli ${bad_plugin_targets})
tunebench_add_test(test_distill SOURCES method/test_distill.cpp LABELS integration reference LIBRARIES tunebench_core
                   TORCH TIMEOUT 600)
add_dependencies(test_distill tunebench-cli)
