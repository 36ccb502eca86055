#include "core/pipeline/pipeline_data.h"

#include "core/data/dataset_format.h"
#include "core/merge/validation_loss.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/train/batching.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/splitmix64.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tunebench {

namespace fs = std::filesystem;

std::vector<std::size_t> drawReplay(std::size_t poolSize, std::size_t stageExamples, double share, std::uint64_t seed)
{
    const auto wanted = static_cast<std::size_t>(std::llround(share * static_cast<double>(stageExamples)));
    const std::size_t count = std::min(poolSize, wanted);
    std::vector<std::size_t> idx(poolSize);
    std::iota(idx.begin(), idx.end(), std::size_t(0));
    SplitMix64 rng(seed);
    for (std::size_t t = 0; t < count; ++t) {
        const auto span = static_cast<double>(poolSize - t);
        const std::size_t j = t + std::min(poolSize - t - 1, static_cast<std::size_t>(rng.unit() * span));
        std::swap(idx[t], idx[j]);
    }
    idx.resize(count);
    return idx;
}

std::vector<PreparedStageData> preparePipelineData(
    const PipelineSpec& spec, const PluginRegistry& plugins, Workspace* workspace, const fs::path& folder)
{
    struct Loaded {
        DatasetRecords data;
        std::vector<std::int64_t> train;
    };
    std::vector<Loaded> loaded;
    std::vector<PreparedStageData> out;
    for (const PipelineStage& stage : spec.stages) {
        const std::string where = spec.file.string() + ": stage '" + stage.name + "'";
        const nlohmann::json config = stageRunConfig(spec, stage.index, spec.model, stage.dataset, "", plugins);
        Loaded l;
        try {
            l.data = loadDatasetRecordsFrom(stage.dataset, workspace);
        } catch (const InputError& e) {
            throw InputError(where + ": key 'dataset': " + e.what());
        }
        if (stage.clm && l.data.format != DatasetFormat::Text)
            throw InputError(where + ": key 'objective': clm trains on raw text, but " + l.data.origin + " holds "
                + std::string(toString(l.data.format)) + " records");
        const auto n = static_cast<std::int64_t>(l.data.records.size());
        if (n < 2)
            throw InputError(where + ": key 'dataset': " + l.data.origin + " has " + std::to_string(n)
                + " record(s); a stage needs at least 2 (one held out for the forgetting matrix)");
        const auto [train, heldOut] = splitTrainEval(n, spec.heldOut, config.at("seed").get<std::uint64_t>());
        l.train = train;

        PreparedStageData p;
        p.format = std::string(toString(l.data.format));
        p.trainExamples = train.size();
        p.heldOut = heldOut.size();
        std::string trainText;
        for (const auto i : train)
            trainText += l.data.records[static_cast<std::size_t>(i)].dump() + "\n";
        if (stage.replay) {
            std::vector<const nlohmann::json*> pool;
            for (const Loaded& earlier : loaded) {
                if (earlier.data.format != l.data.format)
                    continue;
                for (const auto i : earlier.train)
                    pool.push_back(&earlier.data.records[static_cast<std::size_t>(i)]);
            }
            if (pool.empty())
                throw InputError(where + ": key 'replay': no earlier stage holds " + p.format
                    + " records to replay (replay mixes in earlier stages' examples of the stage's own format)");
            for (const std::size_t i : drawReplay(pool.size(), train.size(), stage.replay->share, stage.replay->seed))
                trainText += pool[i]->dump() + "\n";
            p.replayed = std::min(pool.size(),
                static_cast<std::size_t>(std::llround(stage.replay->share * static_cast<double>(train.size()))));
        }
        std::string heldOutText;
        for (const auto i : heldOut)
            heldOutText += l.data.records[static_cast<std::size_t>(i)].dump() + "\n";
        const fs::path dir = folder / ("stage-" + std::to_string(stage.index + 1));
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw Error("cannot create " + dir.string() + ": " + ec.message());
        p.trainFile = dir / "train.jsonl";
        p.heldOutFile = dir / "heldout.jsonl";
        writeFileAtomically(p.trainFile, trainText);
        writeFileAtomically(p.heldOutFile, heldOutText);
        loaded.push_back(std::move(l));
        out.push_back(std::move(p));
    }
    return out;
}

} // namespace tunebench
