# Sweep files, their expansion, the store's sweep tables and `sweep show`'s statistics (no training).
tunebench_add_test(test_sweep_spec SOURCES sweep/test_sweep_spec.cpp LABELS unit LIBRARIES tunebench_core)
add_dependencies(test_sweep_spec tunebench-cli) # tunebench-cli builds every plugin
# A sweep of a tiny model killed mid-way (the sweep and a worker) and resumed; `sweep show` against the store.
tunebench_add_test(test_sweep_cli SOURCES sweep/test_sweep_cli.cpp LABELS integration LIBRARIES tunebench_core
                   TORCH TIMEOUT 600)
add_dependencies(test_sweep_cli tunebench-cli)
# The Sweep page offscreen.
tunebench_add_test(test_sweep_page SOURCES sweep/test_sweep_page.cpp LABELS gui LIBRARIES tunebench_ui)
add_dependencies(test_sweep_page tunebench-cli)
