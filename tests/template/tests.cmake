# Template engine and chat template tests (core/template, core/tokenizer/chat_template). Paths are relative to tests/.
tunebench_add_test(test_template_lexer SOURCES template/test_template_lexer.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_template_parser SOURCES template/test_template_parser.cpp LABELS unit LIBRARIES tunebench_core)
tunebench_add_test(test_template_evaluator SOURCES template/test_template_evaluator.cpp LABELS unit
                   LIBRARIES tunebench_core)
tunebench_add_test(test_chat_template SOURCES template/test_chat_template.cpp LABELS unit LIBRARIES tunebench_core)
# Compares with transformers' apply_chat_template and Jinja2 (tests/reference/render_chat_template.py)
# line by line; the real templates come from ../shared/fixtures/tokenizers; drives the CLI.
tunebench_add_test(test_chat_template_parity SOURCES template/test_chat_template_parity.cpp
                   LABELS integration reference LIBRARIES tunebench_core)
target_compile_definitions(test_chat_template_parity PRIVATE TUNEBENCH_CLI="$<TARGET_FILE:tunebench-cli>")
add_dependencies(test_chat_template_parity tunebench-cli)
tunebench_add_test(test_template_robustness SOURCES template/test_template_robustness.cpp LABELS unit
                   LIBRARIES tunebench_core)
tunebench_add_test(bench_chat_template SOURCES template/bench_chat_template.cpp LABELS bench reference
                   LIBRARIES tunebench_core)
