// The version-specific paths of core/torch_compat.h and the device read-outs, checked against
// the plain formulas in every build: on LibTorch 1.13 they are the eager paths, on 2.x the
// fused ones (scaled_dot_product_attention, fused AdamW, the 2.x autocast API). Built without
// Qt, so the Qt-free builds (the CUDA one among them) run it too.
//
// Prints one line per check and "N passed, M failed"; exits 1 on any failure.

#include "core/device_memory.h"
#include "core/model/attention.h"
#include "core/torch_compat.h"
#include "core/train/optimizer.h"
#include "core/version.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdio>
#include <functional>
#include <string>

using namespace tunebench;

namespace {

int g_passed = 0;
int g_failed = 0;

void check(const std::string& name, bool ok, const std::string& detail = {})
{
    (ok ? g_passed : g_failed) += 1;
    std::printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
}

double maxDiff(const at::Tensor& a, const at::Tensor& b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string num(double x)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", x);
    return buf;
}

// transformers' eager attention written out: repeat_kv, masked scores, softmax, values. A row that
// sees no key averages all values uniformly (its scores are all the same lowest value).
at::Tensor eagerAttention(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed, double scale)
{
    const std::int64_t group = q.size(1) / k.size(1);
    const at::Tensor kk = k.repeat_interleave(group, 1); // [B, H, S, D]
    const at::Tensor vv = v.repeat_interleave(group, 1);
    at::Tensor scores = at::matmul(q, kk.transpose(-1, -2)) * scale; // [B, H, T, S]
    scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
    const at::Tensor out = at::matmul(at::softmax(scores, -1), vv); // [B, H, T, D]
    return out.transpose(1, 2).reshape({ q.size(0), q.size(2), q.size(1) * q.size(3) });
}

void attentionMatchesEager()
{
    at::manual_seed(3);
    const std::int64_t b = 2, h = 4, kvh = 2, t = 6, d = 8;
    for (const bool window : { false, true }) {
        at::Tensor q = at::randn({ b, h, t, d }).requires_grad_(true);
        at::Tensor k = at::randn({ b, kvh, t, d }).requires_grad_(true);
        at::Tensor v = at::randn({ b, kvh, t, d }).requires_grad_(true);
        // The second row is left-padded by two: its first two queries see no key.
        const at::Tensor keyMask = at::tensor({ 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1 }, at::kLong).view({ b, t });
        const at::Tensor allowed = causalAttentionMask(
            keyMask, b, t, t, window ? std::optional<std::int64_t>(3) : std::nullopt, at::Device(at::kCPU));
        const double scale = 1.0 / std::sqrt(static_cast<double>(d));
        const at::Tensor ours = groupedAttention(q, k, v, allowed, scale);
        const at::Tensor theirs = eagerAttention(q, k, v, allowed, scale);
        const std::string label = std::string(compat::kHasScaledDotProductAttention ? "sdpa" : "eager")
            + (window ? ", window 3" : "") + " attention (GQA, left padding)";
        check(label + " equals the eager formula", maxDiff(ours, theirs) <= 1e-5, num(maxDiff(ours, theirs)));
        const at::Tensor weights = at::randn_like(ours);
        const auto g1 = torch::autograd::grad({ (ours * weights).sum() }, { q, k, v });
        const auto g2 = torch::autograd::grad({ (theirs * weights).sum() }, { q, k, v });
        double worst = 0;
        for (std::size_t i = 0; i < g1.size(); ++i)
            worst = std::max(worst, maxDiff(g1[i], g2[i]));
        check(label + ": gradients equal the eager formula's", worst <= 1e-5, num(worst));
    }
}

void fusedAdamWMatchesPerParameter()
{
    auto run = [](bool fused) {
        at::manual_seed(5);
        std::vector<NamedParameter> params { { "w", at::randn({ 16, 8 }).requires_grad_(true) },
            { "norm.weight", at::randn({ 8 }).requires_grad_(true) } };
        std::vector<ParameterGroup> groups = defaultParameterGroups(params, 0.1);
        groups.front().lrScale = 0.5;
        AdamWOptions options;
        options.fused = fused;
        auto optimizer = makeAdamW(groups, options);
        for (int step = 0; step < 5; ++step) {
            optimizer->zeroGrad();
            at::Tensor loss = (params[0].tensor.sum(0) * params[1].tensor).pow(2).sum(); // [8] * [8]
            loss.backward();
            optimizer->step(1e-2);
        }
        return std::make_pair(params, optimizer->state());
    };
    const auto [fused, fusedState] = run(true);
    const auto [plain, plainState] = run(false);
    double worst = 0;
    for (std::size_t i = 0; i < fused.size(); ++i)
        worst = std::max(worst, maxDiff(fused[i].tensor.detach(), plain[i].tensor.detach()));
    for (const auto& [name, t] : plainState)
        worst = std::max(worst, maxDiff(fusedState.at(name), t));
    const bool available = compat::hasFusedAdamW(c10::DeviceType::CPU);
    check(std::string("AdamW ") + (available ? "fused kernel" : "(no fused kernel in this LibTorch)")
            + " equals the per-parameter update over 5 steps (weight decay, lr scale)",
        worst <= 1e-6, num(worst));
    check("fused AdamW is available exactly from LibTorch 2.4 on",
        available == TUNEBENCH_TORCH_AT_LEAST(2, 4));
}

void autocastGuard()
{
    const at::Tensor a = at::randn({ 4, 4 });
    check("autocast: bf16 on the CPU is offered, float16 is not",
        compat::hasAutocast(c10::DeviceType::CPU, at::kBFloat16) && !compat::hasAutocast(c10::DeviceType::CPU, at::kHalf));
    {
        compat::AutocastGuard outer(c10::DeviceType::CPU, at::kBFloat16);
        check("autocast: a matmul under the guard runs in bfloat16", at::matmul(a, a).scalar_type() == at::kBFloat16);
        {
            compat::AutocastGuard off(c10::DeviceType::CPU, at::kBFloat16, /*enabled=*/false);
            check("autocast: a disabled guard changes nothing", at::matmul(a, a).scalar_type() == at::kBFloat16);
        }
    }
    check("autocast: the guard restores float32", at::matmul(a, a).scalar_type() == at::kFloat);
    bool threw = false;
    try {
        compat::AutocastGuard bad(c10::DeviceType::CPU, at::kHalf);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    check("autocast: float16 on the CPU is refused", threw);
}

void deviceReadOuts()
{
    check("no device memory read-out for the CPU", !deviceMemory(at::Device(at::kCPU)).has_value());
    const std::string version = torchVersion();
    check("the LibTorch version says whether it has CUDA",
        builtWithCuda() ? version.find(std::string("with CUDA ") + cudaBuildVersion()) != std::string::npos
                        : version.find("CPU only") != std::string::npos,
        version);
}

} // namespace

int main()
{
    for (const auto& [name, part] : std::initializer_list<std::pair<const char*, void (*)()>> {
             { "attention", attentionMatchesEager }, { "AdamW", fusedAdamWMatchesPerParameter },
             { "autocast", autocastGuard }, { "device read-outs", deviceReadOuts } }) {
        try {
            part();
        } catch (const std::exception& e) {
            check(std::string(name) + " threw", false, e.what());
        }
        std::fflush(stdout);
    }
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
