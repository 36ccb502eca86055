#include "core/method/objective.h"

#include "core/model/causal_lm.h"
#include "core/util/error.h"

namespace tunebench {

// Only distillation-style objectives have a teacher; a ModelAccess without one (tests, tools) need not say so.
ForwardOutput ModelAccess::teacher(const ForwardInput&)
{
    throw InputError("no teacher model: the objective must name one (teacherModel()) before it asks for it");
}

} // namespace tunebench
