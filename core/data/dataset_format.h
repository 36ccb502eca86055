#pragma once

#include "core/data/record_reader.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

// The shapes of training data Tunebench understands, with their canonical
// fields (the names common fine-tuning tools use):
//   text                 text
//   instruction          instruction, input (optional), output        (alpaca)
//   chat                 messages: [{role, content}, ...]
//   preference           prompt, chosen, rejected                      (DPO-style pairs)
//   unpaired_preference  prompt, completion, label (true = desirable)  (KTO)
//   prompt               prompt, answer (optional), any other fields   (online objectives: GRPO)
// For preference data, prompt may be a string or a list of messages and the
// responses a string or a list of assistant messages. Prompt data's prompt is
// a string or a list of messages (without the answer), `answer` a string or a
// number, and the record's other fields are kept as they are (reward plugins
// read them).
enum class DatasetFormat { Text, Instruction, Chat, Preference, UnpairedPreference, Prompt };

std::string_view toString(DatasetFormat format);
// Accepts the names above and the aliases alpaca, messages, sharegpt-less
// "conversation", dpo, pairs, kto, prompts and grpo. Throws InputError listing them.
DatasetFormat datasetFormatFromString(std::string_view name);

// A format's canonical fields and which of them a record must have.
struct FieldSpec {
    std::string_view name;
    bool required;
};
const std::vector<FieldSpec>& fieldsOf(DatasetFormat format);

// Maps a canonical field to the column that holds it in the user's file
// (e.g. {"prompt": "question"}); unmapped fields use their canonical name.
using ColumnMapping = std::map<std::string, std::string>;

// Guesses the format from a record's keys (after mapping), preferring the most
// specific shape. Returns nothing when no format fits.
std::optional<DatasetFormat> detectFormat(const nlohmann::json& record, const ColumnMapping& mapping = {});

// Checks one record against the format and returns it in canonical form,
// or nothing, with every problem appended to errors (line, field, message).
std::optional<nlohmann::json> normalizeRecord(const nlohmann::json& record, std::int64_t line, DatasetFormat format,
    const ColumnMapping& mapping, std::vector<RecordError>& errors);

} // namespace tunebench
