# The bundled demo (core/demo, tunebench-cli demo) and the BPE trainer it uses.
# Its Hugging Face format check loads the trained folder with transformers and tokenizers.
tunebench_add_test(test_bpe_trainer SOURCES demo/test_bpe_trainer.cpp LABELS unit reference LIBRARIES tunebench_core)
# Trains the quick demo end to end through the CLI (a minute or two on an idle 2-core machine).
tunebench_add_test(test_demo SOURCES demo/test_demo.cpp LABELS slow LIBRARIES tunebench_core TIMEOUT 3000)
add_dependencies(test_demo tunebench-cli)
tunebench_add_test(test_demo_parts SOURCES demo/test_demo_parts.cpp LABELS unit LIBRARIES tunebench_core)
