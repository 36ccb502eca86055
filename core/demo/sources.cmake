# The bundled demo (tunebench-cli demo): generated data, the demo model, presets.
list(APPEND plain_sources
  demo/demo_world.cpp
  demo/demo_presets.cpp
  demo/demo_result.cpp
)
list(APPEND torch_sources
  demo/demo.cpp
  demo/demo_build.cpp
  demo/demo_measures.cpp
  demo/demo_pipeline.cpp
  demo/demo_runs.cpp
)
