tunebench_add_test(test_distributed_config SOURCES distributed/test_distributed_config.cpp LABELS unit
                   LIBRARIES tunebench_core)
# Several tunebench-cli processes per case, Gloo on loopback, one thread per rank.
tunebench_add_test(test_distributed SOURCES distributed/test_distributed.cpp LABELS integration slow
                   LIBRARIES tunebench_core TORCH TIMEOUT 900)
add_dependencies(test_distributed tunebench-cli) # tunebench-cli builds every plugin
tunebench_add_test(bench_distributed SOURCES bench/bench_distributed.cpp LABELS bench LIBRARIES tunebench_core TORCH
                   TIMEOUT 1800)
add_dependencies(bench_distributed tunebench-cli)
# ctest runs the short mode; build/tests/bench_distributed run by hand gives the full figures.
set_tests_properties(bench_distributed PROPERTIES ENVIRONMENT TUNEBENCH_BENCH_SHORT=1)
