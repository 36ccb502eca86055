#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// Encoded sequences on their way through the post-processor: one (single
// input) or two (a pair); a processor that joins them returns one.
using IdSequences = std::vector<std::vector<std::int32_t>>;

// A tokenizer.json "post_processor": adds the special tokens around encoded
// sequences when the caller asks for them (add_special_tokens). Immutable.
class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    // Applies the processor to one or two sequences (see IdSequences).
    virtual IdSequences apply(IdSequences sequences) const = 0;
};

// TemplateProcessing: "single" and "pair" are lists of pieces, each either a
// special token (whose ids come from "special_tokens") or sequence A or B.
class TemplatePostProcessor final : public PostProcessor {
public:
    struct Piece {
        bool isSequence = false;
        bool sequenceB = false; // for a sequence piece: B rather than A
        std::vector<std::int32_t> ids; // for a special-token piece
    };
    TemplatePostProcessor(std::vector<Piece> single, std::vector<Piece> pair)
        : m_single(std::move(single))
        , m_pair(std::move(pair))
    { }
    IdSequences apply(IdSequences sequences) const override;

private:
    std::vector<Piece> m_single;
    std::vector<Piece> m_pair;
};

// Post-processors that only adjust offsets (ByteLevel): ids pass through.
class PassThroughPostProcessor final : public PostProcessor {
public:
    IdSequences apply(IdSequences sequences) const override { return sequences; }
};

// BertProcessing and RobertaProcessing: cls A sep, and cls A sep (sep) B sep.
class ClsSepPostProcessor final : public PostProcessor {
public:
    ClsSepPostProcessor(std::int32_t cls, std::int32_t sep, bool doubleSepBetweenPairs)
        : m_cls(cls)
        , m_sep(sep)
        , m_doubleSep(doubleSepBetweenPairs)
    { }
    IdSequences apply(IdSequences sequences) const override;

private:
    std::int32_t m_cls;
    std::int32_t m_sep;
    bool m_doubleSep;
};

class SequencePostProcessor final : public PostProcessor {
public:
    explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
        : m_steps(std::move(steps))
    { }
    IdSequences apply(IdSequences sequences) const override;

private:
    std::vector<std::unique_ptr<PostProcessor>> m_steps;
};

} // namespace tunebench
