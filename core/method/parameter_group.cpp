#include "core/method/parameter_group.h"

namespace tunebench {

namespace {

bool endsWith(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

bool decaysByDefault(const NamedParameter& p)
{
    const std::string& n = p.name;
    if (p.tensor.dim() <= 1)
        return false;
    return !(endsWith(n, "bias") || n.find("norm") != std::string::npos || n.find("ln_") != std::string::npos);
}

std::vector<ParameterGroup> defaultParameterGroups(std::vector<NamedParameter> params, double weightDecay)
{
    ParameterGroup decay { {}, weightDecay, 1.0 };
    ParameterGroup noDecay { {}, 0.0, 1.0 };
    for (auto& p : params)
        (decaysByDefault(p) ? decay : noDecay).parameters.push_back(std::move(p));
    std::vector<ParameterGroup> out;
    if (!decay.parameters.empty())
        out.push_back(std::move(decay));
    if (!noDecay.parameters.empty())
        out.push_back(std::move(noDecay));
    return out;
}

} // namespace tunebench
