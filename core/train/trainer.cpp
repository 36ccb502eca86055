#include "core/train/trainer.h"

#include "core/train/training_run.h"

namespace tunebench {

// A short loop of named stages (core/train/training_run.h), in the manner of llm.c's main.
TrainResult runTraining(const TrainConfig& config, const PluginRegistry& plugins, const TrainerOptions& options)
{
    TrainingRun run(config, plugins, options);
    if (options.resume)
        run.resume();
    if (config.precomputeRefLogProbs)
        run.cacheReference();
    run.begin();
    while (!run.done()) {
        if (run.cancelRequested(options.cancel && options.cancel->load()))
            return run.finish(TrainResult::Status::Cancelled);
        run.step();
    }
    return run.finish();
}

} // namespace tunebench
