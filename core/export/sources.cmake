list(APPEND torch_sources
  export/gguf.cpp
  export/gguf_export.cpp
  export/peft_adapter.cpp)
# Reading GGUF headers needs no LibTorch (and is fuzzed without it: tests/fuzz).
list(APPEND plain_sources
  export/gguf_file.cpp)
