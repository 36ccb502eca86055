# core/model: Hugging Face model folders, architectures, generation.
# Paths are relative to core/ (see core/CMakeLists.txt).
list(APPEND plain_sources
  model/safetensors_header.cpp
  model/mapped_file.cpp
  model/config.cpp
)
list(APPEND torch_sources
  model/safetensors.cpp
  model/model_weights.cpp
  model/linear.cpp
  model/layers.cpp
  model/rope.cpp
  model/attention.cpp
  model/kv_cache.cpp
  model/causal_lm.cpp
  model/llama.cpp
  model/gpt2.cpp
  model/model_loader.cpp
  model/model_writer.cpp
  model/sampling.cpp
  model/generate.cpp
  model/checkpointing.cpp
  model/linear_cross_entropy.cpp
)
