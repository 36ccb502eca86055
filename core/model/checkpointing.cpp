#include "core/model/checkpointing.h"

#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <memory>
#include <utility>

namespace tunebench {

namespace {

// The layer and the generator state rerun in backward, kept by the autograd node.
struct Recompute final : torch::CustomClassHolder {
    LayerFunction layer;
    at::Tensor rngState;
    at::Tensor output; // the first run's, handed over by forward
};

class CheckpointFunction final : public torch::autograd::Function<CheckpointFunction> {
public:
    // The second input only makes the output require grad when x does not (frozen
    // embeddings under an adapter): without it backward would never reach the layer's
    // own trainable parameters.
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& anchor,
        c10::intrusive_ptr<Recompute> recompute)
    {
        (void)anchor;
        ctx->save_for_backward({ x });
        at::Tensor y = std::move(recompute->output);
        ctx->saved_data["recompute"] = c10::IValue::make_capsule(std::move(recompute));
        return y;
    }

    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext* ctx, torch::autograd::variable_list gradOutputs)
    {
        const at::Tensor saved = ctx->get_saved_variables().at(0);
        const auto recompute
            = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data.at("recompute").toCapsule());
        at::Generator generator = at::globalContext().defaultGenerator(saved.device());
        at::Tensor current;
        {
            std::lock_guard<std::mutex> lock(generator.mutex());
            current = generator.get_state();
            generator.set_state(recompute->rngState);
        }
        at::Tensor input = saved.detach().requires_grad_(saved.requires_grad());
        at::Tensor output;
        {
            at::AutoGradMode enable(true);
            output = recompute->layer(input);
        }
        {
            std::lock_guard<std::mutex> lock(generator.mutex());
            generator.set_state(current);
        }
        if (output.requires_grad())
            torch::autograd::backward({ output }, { gradOutputs.at(0) });
        at::Tensor inputGrad = input.requires_grad() ? input.grad() : at::Tensor();
        return { inputGrad, at::Tensor(), at::Tensor() };
    }
};

} // namespace

at::Tensor checkpointedLayer(const LayerFunction& layer, const at::Tensor& x)
{
    if (!at::GradMode::is_enabled())
        return layer(x);
    auto recompute = c10::make_intrusive<Recompute>();
    recompute->layer = layer;
    at::Generator generator = at::globalContext().defaultGenerator(x.device());
    {
        std::lock_guard<std::mutex> lock(generator.mutex());
        recompute->rngState = generator.get_state();
    }
    // The first run records autograd like the rerun will (so what depends on grad mode, such
    // as LoRA's dropout, behaves the same), then drops the graph: the layer's activations
    // live only while it runs. A layer where nothing needs a gradient has no graph to drop.
    at::Tensor y = layer(x);
    if (!y.requires_grad())
        return y;
    recompute->output = y.detach();
    y.reset();
    // A leaf of one element that requires grad: backward reaches the node even when x is
    // constant. Its gradient is never used.
    static thread_local at::Tensor anchor;
    if (!anchor.defined() || anchor.device() != x.device())
        anchor = at::zeros({ 1 }, x.options().dtype(at::kFloat)).requires_grad_(true);
    return CheckpointFunction::apply(x, anchor, std::move(recompute));
}

} // namespace tunebench
