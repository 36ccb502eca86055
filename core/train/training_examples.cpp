#include "core/train/training_examples.h"

#include "core/data/dataset_import.h"
#include "core/data/example_encoder.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/batching.h"
#include "core/train/train_config.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <numeric>
#include <optional>

namespace tunebench {

namespace {

struct LoadedData {
    DatasetFormat format = DatasetFormat::Text;
    std::vector<nlohmann::json> records;
    std::string origin; // for messages
};

LoadedData loadWorkspaceDataset(std::int64_t id, Workspace* workspace)
{
    if (!workspace)
        throw InputError("dataset_id " + std::to_string(id) + " needs a workspace");
    const auto record = DatasetStore(workspace->db()).find(id);
    if (!record)
        throw InputError(
            "dataset_id: no dataset with id " + std::to_string(id) + " in workspace " + workspace->root().string());
    return { datasetFormatFromString(record->format), loadDatasetRecords(*workspace, id),
        "dataset " + std::to_string(id) };
}

// A file: read and validated as an import would, without storing it.
LoadedData loadFile(const TrainConfig& c)
{
    LoadedData d;
    std::optional<DatasetFormat> format;
    if (!c.datasetFormat.empty())
        format = datasetFormatFromString(c.datasetFormat);
    std::vector<RecordError> errors;
    readRecords(
        c.dataset, detectFileType(c.dataset),
        [&](SourceRecord&& r) {
            if (!format)
                format = detectFormat(r.value);
            if (!format)
                throw InputError(c.dataset + ":" + std::to_string(r.line)
                    + ": cannot tell the dataset format from the fields; set dataset_format");
            if (auto n = normalizeRecord(r.value, r.line, *format, {}, errors))
                d.records.push_back(std::move(*n));
            return errors.empty();
        },
        [&](RecordError&& e) { errors.push_back(std::move(e)); });
    if (!errors.empty()) {
        const RecordError& e = errors.front();
        throw InputError(c.dataset + ":" + std::to_string(e.line) + (e.field.empty() ? "" : ": field '" + e.field + "'")
            + ": " + e.message + " (import it with 'tunebench-cli dataset import --skip-invalid' to drop bad records)");
    }
    if (d.records.empty())
        throw InputError(c.dataset + ": no records");
    d.format = *format;
    d.origin = c.dataset;
    return d;
}

void moveTo(TokenBatch& t, const at::Device& device)
{
    if (t.inputIds.defined()) {
        t.inputIds = t.inputIds.to(device);
        t.attentionMask = t.attentionMask.to(device);
        t.labels = t.labels.to(device);
    }
}

} // namespace

TrainingExamples::TrainingExamples(const TrainConfig& c, Workspace* workspace, const Tokenizer& tokenizer,
    const ChatTemplate* chatTemplate, ObjectiveData kind)
    : m_kind(kind)
    , m_padId(tokenizer.padId().value_or(tokenizer.eosId().value_or(0)))
{
    const LoadedData data = c.datasetId ? loadWorkspaceDataset(*c.datasetId, workspace) : loadFile(c);
    EncoderOptions encoderOptions;
    encoderOptions.cutoffLen = c.cutoffLen;
    encoderOptions.trainOnPrompt = c.trainOnPrompt;
    const ExampleEncoder encoder(tokenizer, chatTemplate, encoderOptions);
    for (std::size_t i = 0; i < data.records.size(); ++i) {
        const std::string where = data.origin + ", record " + std::to_string(i + 1);
        if (kind == ObjectiveData::Sequences) {
            m_sequences.push_back(encoder.encode(data.records[i], data.format, where));
            m_truncated += m_sequences.back().truncated ? 1 : 0;
        } else if (kind == ObjectiveData::Prompts) {
            if (data.format != DatasetFormat::Prompt)
                throw InputError("objective '" + c.objective + "' samples its own completions from prompt data "
                    + "(prompt, optional answer), " + data.origin + " holds " + std::string(toString(data.format))
                    + " data (set dataset_format: prompt for a file whose records have a prompt field)");
            m_prompts.push_back(encoder.encodePrompt(data.records[i], where));
            m_promptFields.push_back(data.records[i]);
            m_truncated += m_prompts.back().truncated ? 1 : 0;
        } else {
            if (kind == ObjectiveData::PreferencePairs && data.format != DatasetFormat::Preference)
                throw InputError("objective '" + c.objective + "' needs preference pairs (prompt/chosen/rejected), "
                    + data.origin + " holds " + std::string(toString(data.format)) + " data");
            m_preferences.push_back(encoder.encodePreference(data.records[i], data.format, where));
            m_truncated += m_preferences.back().truncated ? 1 : 0;
        }
    }
    // Examples whose response the cut removed entirely train nothing; if that is every example, say why.
    for (const auto& e : m_sequences)
        m_withoutTarget += e.trainedTokens() == 0 ? 1 : 0;
    for (const auto& e : m_preferences)
        m_withoutTarget += e.chosen.empty() ? 1 : 0;
    const std::int64_t n = size();
    if (n > 0 && m_withoutTarget == n)
        throw InputError(data.origin + ": no example keeps a response token within cutoff_len "
            + std::to_string(c.cutoffLen) + " (the prompts fill it); raise cutoff_len or shorten the prompts");
    std::tie(m_train, m_eval) = splitTrainEval(n, c.valSize, c.seed);
    if (c.packing) {
        if (kind != ObjectiveData::Sequences)
            throw InputError("packing: objective '" + c.objective
                + "' trains on preference data; packing is for sequence objectives such as sft");
        pack(c.cutoffLen);
    }
}

TrainingExamples::~TrainingExamples() = default;

std::int64_t TrainingExamples::size() const
{
    if (m_kind == ObjectiveData::Prompts)
        return static_cast<std::int64_t>(m_prompts.size());
    return static_cast<std::int64_t>(m_kind == ObjectiveData::Sequences ? m_sequences.size() : m_preferences.size());
}

// Each split's examples, in order, share rows of up to cutoff_len tokens; the rows are what
// batches draw from. The model keeps the examples apart (segments), so the loss is theirs.
void TrainingExamples::pack(std::int64_t cutoffLen)
{
    auto packSubset = [&](const std::vector<std::int64_t>& subset) {
        std::vector<const EncodedExample*> ex;
        for (auto i : subset)
            ex.push_back(&m_sequences[static_cast<std::size_t>(i)]);
        return packExamples(ex, cutoffLen);
    };
    std::vector<EncodedExample> rows = packSubset(m_train);
    std::vector<EncodedExample> evalRows = packSubset(m_eval);
    const auto trainRows = static_cast<std::int64_t>(rows.size());
    rows.insert(rows.end(), std::make_move_iterator(evalRows.begin()), std::make_move_iterator(evalRows.end()));
    m_sequences = std::move(rows);
    m_train.resize(static_cast<std::size_t>(trainRows));
    std::iota(m_train.begin(), m_train.end(), 0);
    m_eval.resize(m_sequences.size() - static_cast<std::size_t>(trainRows));
    std::iota(m_eval.begin(), m_eval.end(), trainRows);
    m_packedRows = static_cast<std::int64_t>(m_sequences.size());
}

ObjectiveBatch TrainingExamples::batch(
    const std::vector<std::int64_t>& idx, const std::vector<std::int64_t>& subset, const at::Device& device) const
{
    std::vector<std::int64_t> examples;
    for (auto i : idx)
        examples.push_back(subset[static_cast<std::size_t>(i)]);
    ObjectiveBatch b;
    if (m_kind == ObjectiveData::Prompts) {
        for (auto e : examples) {
            const auto i = static_cast<std::size_t>(e);
            b.prompts.ids.push_back(m_prompts[i].ids);
            b.prompts.texts.push_back(m_prompts[i].text);
            b.prompts.fields.push_back(m_promptFields[i]);
            b.prompts.examples.push_back(e);
        }
        b.prompts.device = device;
    } else if (m_kind == ObjectiveData::Sequences) {
        std::vector<const EncodedExample*> ex;
        for (auto e : examples)
            ex.push_back(&m_sequences[static_cast<std::size_t>(e)]);
        b.sequences = collate(ex, m_padId);
    } else {
        std::vector<const EncodedPreference*> ex;
        for (auto e : examples)
            ex.push_back(&m_preferences[static_cast<std::size_t>(e)]);
        b = collatePreferences(ex, m_padId, m_kind == ObjectiveData::PreferencePairs);
    }
    if (m_referenceCache.defined())
        b.referenceLogProbs = m_referenceCache.index_select(0, at::tensor(examples, at::kLong));
    moveTo(b.sequences, device);
    moveTo(b.chosen, device);
    moveTo(b.rejected, device);
    if (b.desirable.defined())
        b.desirable = b.desirable.to(device);
    return b;
}

std::int64_t TrainingExamples::tokens(const ObjectiveBatch& b)
{
    std::int64_t t = 0;
    for (const TokenBatch* tb : { &b.sequences, &b.chosen, &b.rejected }) {
        if (tb->attentionMask.defined())
            t += tb->attentionMask.sum().item<std::int64_t>();
    }
    return t;
}

} // namespace tunebench
