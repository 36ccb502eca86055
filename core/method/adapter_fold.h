#pragma once

// Folding an attached adapter into the model's own weights, for everything
// that wants a run as plain weights (merging runs, a merged or GGUF model).

#include <string>

namespace tunebench {

class Adapter;
class CausalLM;

// Merges the adapter into the model when it can merge (the LoRA family, IA3);
// adapters that train the model's own tensors (full, freeze, BitFit, HFT,
// sparse) have put them there when their state was restored. Throws
// InputError when anything still computes beside the weights (prompt and
// prefix tuning add inputs, not weights): "<subject> cannot be folded into
// the model's weights (prompt and prefix tuning add inputs, not weights)",
// then "; <instead>" when given (what the user can do instead).
void foldAdapterIntoWeights(
    Adapter& adapter, CausalLM& model, const std::string& subject, const std::string& instead = {});

} // namespace tunebench
