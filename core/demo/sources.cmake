# The bundled demo (tunebench-cli demo): generated data, the demo model, presets.
list(APPEND plain_sources
  demo/demo_world.cpp
)
list(APPEND torch_sources
  demo/demo.cpp
)
