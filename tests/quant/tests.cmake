# core/quant and QLoRA (quantize_base of the LoRA-family plugins). Paths relative to tests/.
tunebench_add_test(test_quant SOURCES quant/test_quant.cpp LABELS unit LIBRARIES tunebench_core TORCH)
