# The tokenizer: tokenizer.json / vocab.json + merges.txt, read as the `tokenizers`
# library reads them. No LibTorch here.
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
  tokenizer/tokenizer.cpp
  tokenizer/bpe_trainer.cpp
)
