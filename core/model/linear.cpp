#include "core/model/linear.h"

namespace tunebench {

Linear::Linear(std::string name, std::int64_t inFeatures, std::int64_t outFeatures, bool hasBias, Layout layout)
    : m_name(std::move(name))
    , m_in(inFeatures)
    , m_out(outFeatures)
    , m_hasBias(hasBias)
    , m_layout(layout)
{ }

at::Tensor Linear::weightOutIn() const
{
    return m_layout == Layout::OutIn ? m_weight : m_weight.t();
}

at::Tensor Linear::forward(const at::Tensor& x) const
{
    return m_hook ? m_hook->forward(*this, x) : baseForward(x);
}

at::Tensor Linear::baseForward(const at::Tensor& x) const
{
    if (m_layout == Layout::OutIn)
        return at::linear(x, m_weight, m_hasBias ? c10::optional<at::Tensor>(m_bias) : c10::nullopt);
    // Conv1D: x @ W + b with W [in, out].
    at::Tensor y = at::matmul(x, m_weight);
    return m_hasBias ? y + m_bias : y;
}

} // namespace tunebench
