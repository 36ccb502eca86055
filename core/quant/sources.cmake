# core/quant: frozen weights held in 4-bit NormalFloat or 8-bit integers (QLoRA).
# Paths are relative to core/ (see core/CMakeLists.txt).
list(APPEND torch_sources
  quant/quantize.cpp
  quant/quantized_linear.cpp)
