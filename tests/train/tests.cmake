tunebench_add_test(test_optimizer SOURCES train/test_optimizer.cpp LABELS unit LIBRARIES tunebench_core TORCH)
tunebench_add_test(test_lr_schedule SOURCES train/test_lr_schedule.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_trainer SOURCES train/test_trainer.cpp LABELS integration LIBRARIES tunebench_core TORCH
                   TIMEOUT 600)
add_dependencies(test_trainer tunebench-cli) # tunebench-cli builds every plugin
tunebench_add_test(test_adapter_runs SOURCES train/test_adapter_runs.cpp LABELS integration LIBRARIES tunebench_core
                   TORCH TIMEOUT 600)
add_dependencies(test_adapter_runs tunebench-cli)
tunebench_add_test(bench_train SOURCES bench/bench_train.cpp LABELS bench LIBRARIES tunebench_core TORCH TIMEOUT 1800)
add_dependencies(bench_train tunebench-cli)
tunebench_add_test(test_packing SOURCES train/test_packing.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_packing tunebench-cli)
tunebench_add_test(test_mezo SOURCES train/test_mezo.cpp LABELS integration LIBRARIES tunebench_core TORCH
                   TIMEOUT 600)
add_dependencies(test_mezo tunebench-cli)
tunebench_add_test(bench_mezo SOURCES bench/bench_mezo.cpp LABELS bench LIBRARIES tunebench_core TORCH TIMEOUT 1800)
add_dependencies(bench_mezo tunebench-cli)
# Peak RSS with gradient checkpointing and the chunked loss on and off, against the estimate.
tunebench_add_test(bench_memory SOURCES bench/bench_memory.cpp LABELS bench LIBRARIES tunebench_core TORCH TIMEOUT 1200)
add_dependencies(bench_memory tunebench-cli)
# Model FLOPs, device peaks, and samples_per_s / mfu in a run's step events.
tunebench_add_test(test_throughput SOURCES train/test_throughput.cpp LABELS unit LIBRARIES tunebench_core TORCH)
add_dependencies(test_throughput tunebench-cli)
