#include "core/train/teacher.h"

#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

namespace tunebench {

std::unique_ptr<CausalLM> loadTeacher(const std::filesystem::path& folder, const CausalLM& student,
    const Tokenizer& studentTokenizer, const LoadOptions& options)
{
    const std::string where = "teacher (" + folder.string() + ")";
    std::optional<Tokenizer> tokenizer;
    try {
        tokenizer.emplace(Tokenizer::fromFolder(folder));
    } catch (const InputError& e) {
        throw InputError(where + ": its tokenizer does not load: " + e.what());
    }
    if (tokenizer->vocabSize() != studentTokenizer.vocabSize())
        throw InputError(where + ": the tokenizer differs from the student's: vocabulary of "
            + std::to_string(tokenizer->vocabSize()) + " tokens, the student's has "
            + std::to_string(studentTokenizer.vocabSize()) + " (distillation compares the two models token by token)");
    for (std::size_t id = 0; id < tokenizer->vocabSize(); ++id) {
        const auto i = static_cast<std::int32_t>(id);
        if (tokenizer->idToToken(i) != studentTokenizer.idToToken(i))
            throw InputError(where + ": the tokenizer differs from the student's: id " + std::to_string(id) + " is '"
                + tokenizer->idToToken(i) + "' in the teacher, '" + studentTokenizer.idToToken(i) + "' in the student");
    }
    std::unique_ptr<CausalLM> teacher;
    try {
        teacher = loadCausalLM(folder, options);
    } catch (const InputError& e) {
        throw InputError(where + ": the model does not load: " + e.what());
    }
    if (teacher->config().vocabSize != student.config().vocabSize)
        throw InputError(where + ": vocab_size " + std::to_string(teacher->config().vocabSize)
            + " in its config.json, the student's is " + std::to_string(student.config().vocabSize)
            + " (the two models' logits must cover the same ids)");
    teacher->setRequiresGrad(false);
    return teacher;
}

} // namespace tunebench
