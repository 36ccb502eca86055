#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

// Text-level diversity of generated samples (METHODS.md, "Measures").
// Texts are split into words on whitespace, case-sensitive.

using Words = std::vector<std::string>;
Words splitWords(std::string_view text);

// Unique n-grams / total n-grams over all texts together; 0 when there is no n-gram.
double distinctN(const std::vector<Words>& texts, int n);

// Expectation-adjusted distinct: distinct count / (V (1 - ((V-1)/V)^C)), the
// distinct count relative to what C draws from a vocabulary of V would give.
double expectationAdjustedDistinct(const std::vector<Words>& texts, int n, double vocabularySize);

// Sentence BLEU-4 of a candidate against references: uniform weights over
// clipped 1..4-gram precisions, brevity penalty against the closest reference
// length (the shorter on ties), and add-epsilon (0.1) smoothing of orders with
// no match (Chen & Cherry's method 1, as Texygen's self-BLEU uses). 0 when no
// unigram matches or the candidate is empty.
double sentenceBleu(const Words& candidate, const std::vector<const Words*>& references, int maxOrder = 4);

// Mean BLEU-4 of each text against all the others as references; lower is
// more diverse. 0 for fewer than two texts.
double selfBleu(const std::vector<Words>& texts);

// selfBleu within each group of groupSize consecutive texts (one prompt's completions, as GRPO samples them),
// averaged over the groups; a trailing partial group counts too when it holds two or more texts.
double groupSelfBleu(const std::vector<Words>& texts, std::size_t groupSize);

struct DiversitySample {
    std::string prompt;
    std::string text;
};

struct DiversityOptions {
    int maxN = 4;
    // V of EAD. Word-level measures have no fixed vocabulary; 50257 (GPT-2's)
    // follows the EAD paper's setting and is reported with the result.
    double eadVocabularySize = 50257;
};

struct DiversityResult {
    std::int64_t texts = 0;
    std::int64_t prompts = 0;
    std::vector<double> distinct; // [n-1]: all texts together (across inputs)
    std::vector<double> ead; // [n-1]
    double selfBleu = 0;
    std::vector<double> perInputDistinct; // [n-1]: within each prompt's texts, averaged over prompts
    std::vector<double> perInputEad; // [n-1]
    double perInputSelfBleu = 0; // averaged over prompts with two or more texts
    double eadVocabularySize = 0;
};

DiversityResult measureDiversity(const std::vector<DiversitySample>& samples, const DiversityOptions& options = {});

} // namespace tunebench
