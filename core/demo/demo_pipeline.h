#pragma once

// The demo's two-stage pipeline (issue 20): continued pretraining (objective clm, a LoRA folded in afterwards)
// on facts of the demo world the corpus never tells, then the card task, with the forgetting matrix after each
// stage (each stage's held-out loss). Written as a pipeline file in the demo's build folder, recorded as a
// workspace pipeline (`tunebench-cli pipeline show ID`, or `tunebench-cli pipeline FILE` to run it again as a
// worker-per-stage pipeline) and trained in this process; a finished one with the same file is reused.

#include "core/demo/demo_result.h"

#include <cstdint>
#include <filesystem>

namespace tunebench {

class PluginRegistry;
class Workspace;

namespace demo {

class DemoBuild;
struct DemoOptions;

DemoPipeline runDemoPipeline(
    Workspace& workspace, const PluginRegistry& plugins, const DemoBuild& build, const DemoOptions& options);

} // namespace demo
} // namespace tunebench
