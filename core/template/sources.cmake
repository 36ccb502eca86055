# The Jinja subset interpreter (chat templates); no LibTorch.
list(APPEND plain_sources
  template/unicode_text.cpp
  template/value.cpp
  template/value_format.cpp
  template/template_error.cpp
  template/callable.cpp
  template/lexer.cpp
  template/token_stream.cpp
  template/expression_parser.cpp
  template/parser.cpp
  template/name_check.cpp
  template/evaluator.cpp
  template/lookup.cpp
  template/operators.cpp
  template/python_str.cpp
  template/string_format.cpp
  template/methods.cpp
  template/filters.cpp
  template/sequence_filters.cpp
  template/predicates.cpp
  template/json_dump.cpp
  template/globals.cpp
  template/template.cpp
  # Chat templates from tokenizer_config.json live with the tokenizer but need only this module.
  tokenizer/chat_template.cpp
)
