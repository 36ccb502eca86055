# Export tests (core/export, app/cli/export_commands.cpp, app/cli/import_commands.cpp). Paths relative to tests/.
# GGUF files are read back with llama.cpp's reader (the gguf package of the reference environment) as well.
tunebench_add_test(test_gguf SOURCES export/test_gguf.cpp LABELS unit reference LIBRARIES tunebench_core TORCH)
# Trains every PEFT-able adapter through the CLI, exports and re-imports it, writes GGUF files and reads them with
# llama.cpp's reader (tests/reference/gguf_reference.py).
tunebench_add_test(test_export_adapters SOURCES export/test_export_adapters.cpp LABELS integration reference
                   LIBRARIES tunebench_core TORCH TIMEOUT 1500)
add_dependencies(test_export_adapters tunebench-cli) # tunebench-cli builds every plugin
tunebench_add_test(test_gguf_chat_template SOURCES export/test_gguf_chat_template.cpp LABELS unit
                   LIBRARIES tunebench_core TORCH)
