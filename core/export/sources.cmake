list(APPEND torch_sources
  export/gguf.cpp
  export/gguf_export.cpp
  export/peft_adapter.cpp)
