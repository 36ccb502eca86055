#include "core/train/lr_schedule.h"

#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tunebench {

ScheduleType scheduleTypeFromString(std::string_view name)
{
    if (name == "constant" || name == "constant_with_warmup")
        return ScheduleType::Constant;
    if (name == "linear")
        return ScheduleType::Linear;
    if (name == "cosine")
        return ScheduleType::Cosine;
    throw InputError("lr_scheduler_type: unknown schedule '" + std::string(name)
        + "' (expected constant, constant_with_warmup, linear or cosine)");
}

std::string_view toString(ScheduleType type)
{
    switch (type) {
    case ScheduleType::Constant:
        return "constant";
    case ScheduleType::Linear:
        return "linear";
    case ScheduleType::Cosine:
        return "cosine";
    }
    return "unknown";
}

double LrSchedule::multiplier(std::int64_t step) const
{
    if (step < warmupSteps)
        return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmupSteps));
    const double decaySteps = static_cast<double>(std::max<std::int64_t>(1, totalSteps - warmupSteps));
    const double progress = static_cast<double>(step - warmupSteps) / decaySteps;
    switch (type) {
    case ScheduleType::Constant:
        return 1.0;
    case ScheduleType::Linear:
        return std::max(0.0, 1.0 - progress);
    case ScheduleType::Cosine: {
        const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * std::min(progress, 1.0)));
        return minLrRatio + (1.0 - minLrRatio) * cosine;
    }
    }
    return 1.0;
}

std::int64_t warmupStepsFromRatio(double ratio, std::int64_t totalSteps)
{
    if (ratio < 0.0 || ratio > 1.0)
        throw InputError("warmup_ratio must be between 0 and 1, got " + std::to_string(ratio));
    return static_cast<std::int64_t>(std::ceil(ratio * static_cast<double>(totalSteps)));
}

} // namespace tunebench
