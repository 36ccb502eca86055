#include "core/merge/validation_loss.h"

#include "core/data/dataset_import.h"
#include "core/data/record_reader.h"
#include "core/model/causal_lm.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/batching.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>

namespace tunebench {

namespace {

bool isWholeNumber(const std::string& text)
{
    return !text.empty() && text.size() < 19
        && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

} // namespace

DatasetRecords loadDatasetRecordsFrom(const std::string& fileOrId, Workspace* workspace)
{
    DatasetRecords d;
    if (isWholeNumber(fileOrId) && !std::filesystem::exists(fileOrId)) {
        const std::int64_t id = std::stoll(fileOrId);
        if (!workspace)
            throw InputError("dataset " + fileOrId + ": a dataset id needs a workspace");
        const auto record = DatasetStore(workspace->db()).find(id);
        if (!record)
            throw InputError("no dataset with id " + fileOrId + " in workspace " + workspace->root().string()
                + " (and no such file)");
        d.format = datasetFormatFromString(record->format);
        d.records = loadDatasetRecords(*workspace, id);
        d.origin = "dataset " + fileOrId;
    } else {
        if (!std::filesystem::is_regular_file(fileOrId))
            throw InputError(fileOrId + ": no such file (expected a dataset file or the id of a workspace dataset)");
        std::optional<DatasetFormat> format;
        std::vector<RecordError> errors;
        readRecords(
            fileOrId, detectFileType(fileOrId),
            [&](SourceRecord&& r) {
                if (!format)
                    format = detectFormat(r.value);
                if (!format)
                    throw InputError(fileOrId + ":" + std::to_string(r.line)
                        + ": cannot tell the dataset format from the fields (expected text, alpaca, chat or preference "
                          "records)");
                if (auto n = normalizeRecord(r.value, r.line, *format, {}, errors))
                    d.records.push_back(std::move(*n));
                return errors.empty();
            },
            [&](RecordError&& e) { errors.push_back(std::move(e)); });
        if (!errors.empty()) {
            const RecordError& e = errors.front();
            throw InputError(fileOrId + ":" + std::to_string(e.line)
                + (e.field.empty() ? "" : ": field '" + e.field + "'") + ": " + e.message);
        }
        d.format = format.value_or(DatasetFormat::Text);
        d.origin = fileOrId;
    }
    if (d.records.empty())
        throw InputError(d.origin + ": no records");
    return d;
}

ValidationSet encodeValidationSet(
    const DatasetRecords& data, const std::filesystem::path& modelDir, const ValidationOptions& options)
{
    const Tokenizer tokenizer = Tokenizer::fromFolder(modelDir);
    const std::optional<ChatTemplate> chatTemplate = ChatTemplate::fromFolderIfPresent(modelDir);
    EncoderOptions encoderOptions;
    encoderOptions.cutoffLen = options.cutoffLen;
    encoderOptions.trainOnPrompt = options.trainOnPrompt;
    const ExampleEncoder encoder(tokenizer, chatTemplate ? &*chatTemplate : nullptr, encoderOptions);
    ValidationSet set;
    set.padId = tokenizer.padId().value_or(tokenizer.eosId().value_or(0));
    set.origin = data.origin;
    set.labelSmoothing = options.labelSmoothing;
    std::vector<std::int64_t> indices = options.subset;
    if (indices.empty()) {
        for (std::size_t i = 0; i < data.records.size(); ++i)
            indices.push_back(static_cast<std::int64_t>(i));
    }
    std::int64_t trained = 0;
    for (std::int64_t i : indices) {
        if (i < 0 || static_cast<std::size_t>(i) >= data.records.size())
            throw InputError(data.origin + ": record " + std::to_string(i + 1) + " does not exist");
        set.examples.push_back(encoder.encode(
            data.records[static_cast<std::size_t>(i)], data.format, data.origin + ", record " + std::to_string(i + 1)));
        trained += set.examples.back().trainedTokens();
    }
    if (trained == 0)
        throw InputError(data.origin + ": no record keeps a trained token within cutoff_len "
            + std::to_string(options.cutoffLen) + "; nothing to measure a validation loss on");
    return set;
}

double validationLoss(const CausalLM& model, const ValidationSet& set, std::int64_t batchSize)
{
    at::NoGradGuard noGrad;
    double weighted = 0;
    std::int64_t tokens = 0;
    const std::size_t step = static_cast<std::size_t>(std::max<std::int64_t>(1, batchSize));
    for (std::size_t first = 0; first < set.examples.size(); first += step) {
        std::vector<const EncodedExample*> batch;
        for (std::size_t i = first; i < std::min(set.examples.size(), first + step); ++i)
            batch.push_back(&set.examples[i]);
        const TokenBatch b = collate(batch, set.padId);
        ForwardInput input;
        input.inputIds = b.inputIds;
        input.attentionMask = b.attentionMask;
        const at::Tensor logits = model.forward(input).logits; // [B, T, V]
        const std::int64_t vocab = logits.size(-1);
        // Position t predicts token t + 1.
        const at::Tensor predicted = logits.narrow(1, 0, logits.size(1) - 1).reshape({ -1, vocab }).to(at::kFloat);
        const at::Tensor target = b.labels.narrow(1, 1, b.labels.size(1) - 1).reshape({ -1 });
        const std::int64_t n = target.ne(kIgnoreLabel).sum().item<std::int64_t>();
        if (n == 0)
            continue;
        weighted += at::cross_entropy_loss(predicted, target, {}, at::Reduction::Sum, kIgnoreLabel, set.labelSmoothing)
                        .item<double>();
        tokens += n;
    }
    return tokens > 0 ? weighted / static_cast<double>(tokens) : 0.0;
}

} // namespace tunebench
