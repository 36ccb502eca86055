// rsLoRA (Kalajdzievski): LoRA scaled by s = alpha / sqrt(r) instead of alpha / r,
// so the update's size does not shrink as the rank grows. The lora plugin's
// adapter with use_rslora on by default (PEFT: LoraConfig(use_rslora=True));
// tensors are named as PEFT names LoRA's.

#include "core/method/plugin_api.h"
#include "plugins/lora_common/lora_common.h"

namespace {

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "rslora",
    "1.0.0",
    "adapter",
    "rsLoRA: LoRA scaled by alpha / sqrt(r), stable across ranks",
    R"json([
      {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1, "maximum": 65536,
       "help": "rank of the update"},
      {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0,
       "help": "scale numerator (scale = alpha / sqrt(r))"},
      {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
       "help": "dropout on the layer input of the update, while training"},
      {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"],
       "help": "linear layers to adapt, by name (q_proj, c_attn ...) or all-linear"},
      {"name": "use_rslora", "type": "boolean", "default": true,
       "help": "scale by alpha / sqrt(r); off gives plain LoRA's alpha / r"},
    )json" TUNEBENCH_LORA_QUANTIZE_BASE_SCHEMA R"json(
    ])json",
    []() -> tunebench::Adapter* { return tunebench::lora::createLoraAdapter(false); },
    nullptr,
    "LORA",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
