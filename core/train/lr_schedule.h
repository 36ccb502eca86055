#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tunebench {

// Learning-rate schedules with linear warmup, with the semantics of
// transformers' get_scheduler: the multiplier at optimizer step s (0-based,
// the step about to be taken) for a run of totalSteps steps.
enum class ScheduleType { Constant, Linear, Cosine };

// Accepts the names used in HF TrainingArguments' lr_scheduler_type:
// "constant", "constant_with_warmup", "linear", "cosine". Throws InputError
// naming the accepted values.
ScheduleType scheduleTypeFromString(std::string_view name);
std::string_view toString(ScheduleType type);

struct LrSchedule {
    ScheduleType type = ScheduleType::Linear;
    double baseLr = 5e-5;
    std::int64_t warmupSteps = 0;
    std::int64_t totalSteps = 1;
    double minLrRatio = 0.0; // cosine only: the floor as a share of baseLr

    double multiplier(std::int64_t step) const;
    double lr(std::int64_t step) const { return baseLr * multiplier(step); }
};

// Warmup steps from a ratio of the total, rounded up as transformers does.
std::int64_t warmupStepsFromRatio(double ratio, std::int64_t totalSteps);

} // namespace tunebench
