#include "core/quant/quantized_linear.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

namespace tunebench::quant {

namespace {

at::Tensor dequantizedLike(const QuantizedTensor& q, const at::Tensor& like)
{
    return dequantize(q).to(like.device(), like.scalar_type());
}

// The context keeps what rebuilds the quantised weight (the tensors are shared, not copied).
void save(torch::autograd::AutogradContext* ctx, const QuantizedTensor& q)
{
    ctx->saved_data["scheme"] = static_cast<std::int64_t>(q.scheme);
    ctx->saved_data["shape"] = q.shape;
    ctx->saved_data["data"] = q.data;
    ctx->saved_data["scales"] = q.scales;
    ctx->saved_data["scale_absmax"] = q.scaleAbsmax;
    ctx->saved_data["scale_offset"] = q.scaleOffset;
}

QuantizedTensor restore(torch::autograd::AutogradContext* ctx)
{
    QuantizedTensor q;
    q.scheme = static_cast<Scheme>(ctx->saved_data["scheme"].toInt());
    q.shape = ctx->saved_data["shape"].toIntVector();
    q.data = ctx->saved_data["data"].toTensor();
    q.scales = ctx->saved_data["scales"].toTensor();
    q.scaleAbsmax = ctx->saved_data["scale_absmax"].toTensor();
    q.scaleOffset = ctx->saved_data["scale_offset"].toDouble();
    return q;
}

class QuantizedLinearFunction : public torch::autograd::Function<QuantizedLinearFunction> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const QuantizedTensor* w)
    {
        save(ctx, *w);
        return at::linear(x, dequantizedLike(*w, x));
    }

    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext* ctx, torch::autograd::variable_list gradOutputs)
    {
        const at::Tensor& grad = gradOutputs[0]; // [..., out]
        return { at::matmul(grad, dequantizedLike(restore(ctx), grad)), at::Tensor() };
    }
};

} // namespace

at::Tensor quantizedLinear(const at::Tensor& x, const QuantizedTensor& weight)
{
    if (!at::GradMode::is_enabled() || !x.requires_grad())
        return at::linear(x, dequantizedLike(weight, x));
    return QuantizedLinearFunction::apply(x, &weight);
}

} // namespace tunebench::quant
