#pragma once

// The forgetting matrix of a pipeline: R[j][c], column c's evaluation after stage j (row 0: the base model,
// before the first stage), and the continual-learning measures read from it, per direction of the columns:
//   average  A_k = (1/|C_k|) sum_{c in C_k} R[k][c], over the columns of stages 1..k (Chaudhry et al. 2018;
//            at k = T it is Lopez-Paz & Ranzato's ACC)
//   bwt      (1/|C'|) sum_{c in C'} (s(R[k][c]) - s(R[t(c)][c])), C' the columns of stages before k, t(c) the
//            column's stage (Lopez-Paz & Ranzato 2017's BWT)
//   forgetting (1/|C'|) sum_{c in C'} (max_{1 <= l < k} s(R[l][c]) - s(R[k][c])) (Chaudhry et al. 2018)
//   fwt      (1/|C''|) sum_{c in C''} (s(R[t(c)-1][c]) - s(R[0][c])), C'' the columns of stages 2..k
//            (Lopez-Paz & Ranzato's FWT, the base model as the reference b)
// where k is the last complete row. s(x) = x for a column whose value rises with quality (accuracy), and
// s(x) = -x for one that falls (a loss, perplexity): so for losses too a negative bwt and a positive
// forgetting mean forgetting, and the average stays the plain mean of the losses.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

struct MatrixColumn {
    std::string name; // "STAGE" (held-out loss) or "STAGE/TASK" (an evaluation task)
    std::size_t stage = 1; // the stage (from 1) whose task the column is
    std::string metric; // eval_loss, acc, exact_match, perplexity ...
    bool higherIsBetter = false;
};

struct ForgettingMatrix {
    std::vector<MatrixColumn> columns;
    std::vector<std::vector<double>> rows; // rows[j][c]; NaN where missing; rows[0]: before the first stage
};

struct ContinualMeasures {
    bool higherIsBetter = false; // the columns they are over
    std::size_t afterStage = 0; // k
    std::size_t columns = 0; // |C_k|
    double average = 0;
    std::optional<double> bwt; // none before a second stage
    std::optional<double> forgetting;
    std::optional<double> fwt;
};

// One set of measures per direction present among the columns (higher-is-better first), at the last row whose
// values are all there. Empty when no row after the base is complete.
std::vector<ContinualMeasures> continualMeasures(const ForgettingMatrix& matrix);

// Whether a metric falls as the model improves (losses, perplexity, bits per byte).
bool lowerIsBetter(const std::string& metric);

} // namespace tunebench
