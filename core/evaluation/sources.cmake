# Evaluation tasks (eval_tasks.h: the task files; evaluate.h: a model run on them).
list(APPEND plain_sources
  evaluation/eval_tasks.cpp)
list(APPEND torch_sources
  evaluation/evaluate.cpp)
