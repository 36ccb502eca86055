// An objective that claims a PEFT form, which only adapters have.
#include "core/method/plugin_api.h"

namespace {
const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "peftobjective",
    "1.0.0",
    "objective",
    "an objective with a peftType",
    "[]",
    nullptr,
    []() -> tunebench::Objective* { return nullptr; },
    "LORA",
};
} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
