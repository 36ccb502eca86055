# The tokenizer: tokenizer.json / vocab.json + merges.txt, read as transformers'
# AutoTokenizer loads them (the `tokenizers` library, and the class's pipeline). No LibTorch here.
list(APPEND plain_sources
  tokenizer/unicode.cpp
  tokenizer/pattern.cpp
  tokenizer/byte_level.cpp
  tokenizer/normalizer.cpp
  tokenizer/pre_tokenizer.cpp
  tokenizer/bpe.cpp
  tokenizer/added_tokens.cpp
  tokenizer/post_processor.cpp
  tokenizer/decoder.cpp
  tokenizer/tokenizer_json.cpp
  tokenizer/vocab_merges.cpp
  tokenizer/transformers_class.cpp
  tokenizer/tokenizer.cpp
  tokenizer/bpe_trainer.cpp
)
