#include "post_processor.h"

namespace tunebench {

IdSequences TemplatePostProcessor::apply(IdSequences sequences) const
{
    if (sequences.empty())
        return sequences;
    const bool isPair = sequences.size() > 1;
    std::vector<std::int32_t> out;
    for (const auto& piece : isPair ? m_pair : m_single) {
        if (piece.isSequence) {
            // A template naming B for a single sequence has nothing to put there.
            const std::size_t which = piece.sequenceB ? 1 : 0;
            if (which < sequences.size())
                out.insert(out.end(), sequences[which].begin(), sequences[which].end());
        } else {
            out.insert(out.end(), piece.ids.begin(), piece.ids.end());
        }
    }
    return { std::move(out) };
}

IdSequences ClsSepPostProcessor::apply(IdSequences sequences) const
{
    if (sequences.empty())
        return sequences;
    std::vector<std::int32_t> out { m_cls };
    out.insert(out.end(), sequences[0].begin(), sequences[0].end());
    out.push_back(m_sep);
    if (sequences.size() > 1) {
        if (m_doubleSep)
            out.push_back(m_sep);
        out.insert(out.end(), sequences[1].begin(), sequences[1].end());
        out.push_back(m_sep);
    }
    return { std::move(out) };
}

IdSequences SequencePostProcessor::apply(IdSequences sequences) const
{
    for (const auto& step : m_steps)
        sequences = step->apply(std::move(sequences));
    return sequences;
}

} // namespace tunebench
