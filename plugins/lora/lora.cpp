// LoRA (Hu et al.): h = W0 x + s B A dropout(x), A [r, in] Kaiming-uniform, B [out, r]
// zero so training starts from the base model; s = alpha / r, or alpha / sqrt(r)
// with use_rslora. Tensors are named as PEFT names them
// (base_model.model.<module>.lora_A.weight), so export is a copy. The adapter
// lives in plugins/lora_common, shared with the rslora plugin.

#include "core/method/plugin_api.h"
#include "plugins/lora_common/lora_common.h"

namespace {

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "lora",
    "1.0.0",
    "adapter",
    "LoRA: a trainable low-rank update B A beside each targeted linear layer",
    R"json([
      {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1, "maximum": 65536,
       "help": "rank of the update"},
      {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0, "help": "scale numerator (scale = alpha / r)"},
      {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
       "help": "dropout on the layer input of the update, while training"},
      {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"],
       "help": "linear layers to adapt, by name (q_proj, c_attn ...) or all-linear"},
      {"name": "use_rslora", "type": "boolean", "default": false, "help": "scale by alpha / sqrt(r) (rank-stabilised LoRA)"},
    )json" TUNEBENCH_LORA_QUANTIZE_BASE_SCHEMA R"json(
    ])json",
    []() -> tunebench::Adapter* { return tunebench::lora::createLoraAdapter(true); },
    nullptr,
    "LORA",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
