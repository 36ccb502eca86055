# The run estimate (core/train/run_estimate) and its dry run, `tunebench-cli estimate`. Paths are relative to tests/.
tunebench_add_test(test_run_estimate SOURCES estimate/test_run_estimate.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_run_estimate tunebench-cli) # tunebench-cli builds every plugin
tunebench_add_test(test_estimate_cli SOURCES estimate/test_estimate_cli.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH)
add_dependencies(test_estimate_cli tunebench-cli)
