list(APPEND torch_sources
  export/gguf.cpp
  export/gguf_export.cpp
  export/peft_adapter.cpp
  export/sequence_classifier.cpp)
# Reading GGUF headers and checking PEFT configs need no LibTorch (and are fuzzed without it: tests/fuzz).
list(APPEND plain_sources
  export/gguf_file.cpp
)
