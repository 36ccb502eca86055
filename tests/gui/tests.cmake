# The Run Setup, Runs (queue) and Playground pages with real worker processes.
foreach(gui_test IN ITEMS test_run_setup test_run_queue test_run_failures test_playground)
  tunebench_add_test(${gui_test} SOURCES gui/${gui_test}.cpp LABELS gui LIBRARIES tunebench_ui TIMEOUT 300)
  add_dependencies(${gui_test} tunebench-cli)
endforeach()
# The 3-minute soak (scripts/soak runs the same for two hours): prints lateness and RSS figures, asserts only
# bounded memory growth.
tunebench_add_test(soak_monitor SOURCES gui/soak_monitor.cpp LABELS slow gui LIBRARIES tunebench_ui TIMEOUT 600)
add_dependencies(soak_monitor tunebench-cli)
# Issue 19's GUI: Run Setup's rewards, the Monitor and Compare on a tiny GRPO run trained in the test.
tunebench_add_test(test_grpo_gui SOURCES gui/test_grpo_gui.cpp LABELS gui LIBRARIES tunebench_ui TORCH TIMEOUT 300)
get_property(grpo_gui_plugins GLOBAL PROPERTY TUNEBENCH_PLUGIN_TARGETS) # Run Setup's check and the run's plugins
add_dependencies(test_grpo_gui ${grpo_gui_plugins})
