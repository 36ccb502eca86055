# Pipeline files, replay draws, the pipeline's data files, the store's pipeline tables and the forgetting
# matrix's measures (no training).
tunebench_add_test(test_pipeline_spec SOURCES pipeline/test_pipeline_spec.cpp LABELS unit LIBRARIES tunebench_core)
add_dependencies(test_pipeline_spec tunebench-cli) # tunebench-cli builds every plugin
# A three-stage pipeline of a tiny model (clm, merged, kept with replay) killed mid-stage and resumed; the
# lineage, the forgetting matrix and its measures; SIGINT.
tunebench_add_test(test_pipeline_cli SOURCES pipeline/test_pipeline_cli.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH TIMEOUT 600)
add_dependencies(test_pipeline_cli tunebench-cli)
# The Pipelines page offscreen: a hand-recorded pipeline, its report, the editor.
tunebench_add_test(test_pipeline_page SOURCES pipeline/test_pipeline_page.cpp LABELS gui LIBRARIES tunebench_ui)
add_dependencies(test_pipeline_page tunebench-cli) # the editor checks stages with the plugins
# The Pipelines page with a real pipeline of a tiny model started from its editor, the report on its runs, and a
# tiny distillation run's teacher-student gap in Monitor.
tunebench_add_test(test_pipeline_gui_run SOURCES pipeline/test_pipeline_gui_run.cpp LABELS gui
                   LIBRARIES tunebench_ui TORCH TIMEOUT 600)
add_dependencies(test_pipeline_gui_run tunebench-cli)
