# Pipeline files, replay draws, the pipeline's data files, the store's pipeline tables and the forgetting
# matrix's measures (no training).
tunebench_add_test(test_pipeline_spec SOURCES pipeline/test_pipeline_spec.cpp LABELS unit LIBRARIES tunebench_core)
add_dependencies(test_pipeline_spec tunebench-cli) # tunebench-cli builds every plugin
# A three-stage pipeline of a tiny model (clm, merged, kept with replay) killed mid-stage and resumed; the
# lineage, the forgetting matrix and its measures; SIGINT.
tunebench_add_test(test_pipeline_cli SOURCES pipeline/test_pipeline_cli.cpp LABELS integration
                   LIBRARIES tunebench_core TORCH TIMEOUT 600)
add_dependencies(test_pipeline_cli tunebench-cli)
# The Pipelines page offscreen.
tunebench_add_test(test_pipeline_page SOURCES pipeline/test_pipeline_page.cpp LABELS gui LIBRARIES tunebench_ui)
