tunebench_add_test(test_metrics_export SOURCES report/test_metrics_export.cpp LABELS integration
                   LIBRARIES tunebench_core)
add_dependencies(test_metrics_export tunebench-cli)
# Renders in process and through `tunebench-cli report`, which loads the renderer module (tunebench_report.so).
tunebench_add_test(test_report SOURCES report/test_report.cpp LABELS integration LIBRARIES tunebench_ui TORCH
                   TIMEOUT 600)
add_dependencies(test_report tunebench-cli tunebench)
tunebench_add_test(test_exports_page SOURCES report/test_exports_page.cpp LABELS gui LIBRARIES tunebench_ui TORCH
                   TIMEOUT 600)
add_dependencies(test_exports_page tunebench-cli tunebench)
