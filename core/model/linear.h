// A linear layer under its Hugging Face module name: the hook point adapters
// (LoRA, DoRA, IA3, ...) attach to.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tunebench {

class Linear;

// Replaces a Linear's computation. An adapter implements forward() in terms of
// the layer's own base computation, e.g. LoRA:
//   return layer.baseForward(x) + scale * lora_B(lora_A(x));
// Hooks are called on whatever thread runs the model's forward and must not
// mutate the layer.
class LinearHook {
public:
    virtual ~LinearHook() = default;
    // x: [..., inFeatures] -> [..., outFeatures].
    virtual at::Tensor forward(const Linear& layer, const at::Tensor& x) const = 0;
};

// Every projection of every architecture goes through this class, so an
// adapter finds a layer by its HF module name ("model.layers.3.self_attn.q_proj",
// "transformer.h.0.attn.c_attn") via CausalLM::linear() and calls setHook().
// The weight and bias are the model's parameters themselves (named name +
// ".weight" / ".bias"), stored as the checkpoint stores them.
class Linear {
public:
    // nn.Linear stores weight as [out, in]; GPT-2's Conv1D as [in, out].
    enum class Layout { OutIn, InOut };

    Linear(std::string name, std::int64_t inFeatures, std::int64_t outFeatures, bool hasBias, Layout layout);

    const std::string& name() const { return m_name; }
    std::int64_t inFeatures() const { return m_in; }
    std::int64_t outFeatures() const { return m_out; }
    Layout layout() const { return m_layout; }
    bool hasBias() const { return m_hasBias; }

    at::Tensor& weight() { return m_weight; }
    const at::Tensor& weight() const { return m_weight; }
    at::Tensor& bias() { return m_bias; } // undefined when !hasBias()
    const at::Tensor& bias() const { return m_bias; }
    // The weight as [out, in] whatever the layout (a view for InOut).
    at::Tensor weightOutIn() const;

    // The hook's result when one is set, else baseForward(x).
    at::Tensor forward(const at::Tensor& x) const;
    // x [..., in] -> [..., out] with the layer's own weight and bias.
    at::Tensor baseForward(const at::Tensor& x) const;

    // nullptr removes the hook. Not thread-safe against a running forward.
    void setHook(std::shared_ptr<const LinearHook> hook) { m_hook = std::move(hook); }
    const std::shared_ptr<const LinearHook>& hook() const { return m_hook; }

private:
    std::string m_name;
    std::int64_t m_in;
    std::int64_t m_out;
    bool m_hasBias;
    Layout m_layout;
    at::Tensor m_weight;
    at::Tensor m_bias;
    std::shared_ptr<const LinearHook> m_hook;
};

} // namespace tunebench
