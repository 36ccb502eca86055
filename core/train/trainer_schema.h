#pragma once

#include "core/method/parameter_schema.h"

namespace tunebench {

// The trainer's own configuration keys (learning_rate, max_steps, the measures ...)
// with types, defaults, ranges and help, as TrainConfig::fromJson checks them:
// what the Run Setup page builds its hyperparameter forms from.
const ParameterSchema& trainerParameterSchema();

} // namespace tunebench
