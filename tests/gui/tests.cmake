# The Run Setup, Runs (queue) and Playground pages with real worker processes.
foreach(gui_test IN ITEMS test_run_setup test_run_queue test_run_failures test_playground)
  tunebench_add_test(${gui_test} SOURCES gui/${gui_test}.cpp LABELS gui LIBRARIES tunebench_ui TIMEOUT 300)
  add_dependencies(${gui_test} tunebench-cli)
endforeach()
# The 3-minute soak (scripts/soak runs the same for two hours): prints lateness and RSS figures, asserts only
# bounded memory growth.
tunebench_add_test(soak_monitor SOURCES gui/soak_monitor.cpp LABELS slow gui LIBRARIES tunebench_ui TIMEOUT 600)
add_dependencies(soak_monitor tunebench-cli)
