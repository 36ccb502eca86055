# core/quant and QLoRA (quantize_base of the LoRA-family plugins). Paths relative to tests/.
tunebench_add_test(test_quant SOURCES quant/test_quant.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_qlora SOURCES quant/test_qlora.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_qlora tunebench_plugin_lora tunebench_plugin_rslora tunebench_plugin_dora tunebench_plugin_pissa
                 tunebench_plugin_chain_of_lora)
# Against bitsandbytes' CPU path (tests/reference/bnb_quant.py, one Python process).
tunebench_add_test(test_quant_reference SOURCES quant/test_quant_reference.cpp LABELS integration reference
                   LIBRARIES tunebench_core TORCH TIMEOUT 300)
tunebench_add_test(bench_qlora SOURCES bench/bench_qlora.cpp LABELS bench LIBRARIES tunebench_core TORCH TIMEOUT 600)
add_dependencies(bench_qlora tunebench_plugin_lora)
# The same with a tiny model and two steps, so the integration tests run the bench's code.
add_test(NAME bench_qlora_short COMMAND bench_qlora)
set_tests_properties(bench_qlora_short PROPERTIES LABELS integration TIMEOUT 120
  ENVIRONMENT "QT_QPA_PLATFORM=offscreen;TUNEBENCH_BENCH_SHORT=1")
