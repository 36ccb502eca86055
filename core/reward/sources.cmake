list(APPEND plain_sources
  reward/reward_text.cpp
  reward/reward_set.cpp)
list(APPEND torch_sources
  reward/grpo_loss.cpp
  reward/reward_model_loss.cpp
  reward/reward_model_scorer.cpp)
