# Pipelines (pipeline_spec.h: the pipeline file; pipeline_store.h: schema step 4; forgetting_matrix.h: the
# continual-learning measures; pipeline_data.h and pipeline_evaluation.h: a stage's data, model and matrix row).
list(APPEND plain_sources
  pipeline/pipeline_spec.cpp
  pipeline/pipeline_store.cpp
  pipeline/forgetting_matrix.cpp)
list(APPEND torch_sources
  pipeline/pipeline_data.cpp
  pipeline/pipeline_evaluation.cpp)
