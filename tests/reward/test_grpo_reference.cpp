// GRPO's loss against TRL's GRPOTrainer._compute_loss (tests/reference/trl_grpo.py, one Python process for every
// case) on the same random per-token log-probabilities, advantages and masks: each loss_type, with and without an
// old policy (num_iterations > 1) and a KL term, and DAPO's clip-higher bound.

#include "core/reward/grpo_loss.h"
#include "support/reference.h"

#include <ATen/ATen.h>

#include <QElapsedTimer>
#include <QtTest>

#include <nlohmann/json.hpp>

using namespace tunebench;
using nlohmann::json;

namespace {

json rows(const at::Tensor& t)
{
    const at::Tensor c = t.to(at::kDouble).contiguous();
    json out = json::array();
    for (std::int64_t i = 0; i < c.size(0); ++i) {
        if (c.dim() == 1) {
            out.push_back(c[i].item<double>());
            continue;
        }
        json row = json::array();
        for (std::int64_t j = 0; j < c.size(1); ++j)
            row.push_back(c[i][j].item<double>());
        out.push_back(row);
    }
    return out;
}

struct Case {
    const char* name;
    const char* lossType;
    double epsilon;
    double epsilonHigh; // negative: epsilon
    double beta;
    bool old;
};

const Case kCases[] = {
    { "grpo on-policy", "grpo", 0.2, -1, 0.0, false },
    { "grpo off-policy", "grpo", 0.2, -1, 0.0, true },
    { "grpo off-policy kl", "grpo", 0.2, -1, 0.04, true },
    { "dr_grpo on-policy kl", "dr_grpo", 0.2, -1, 0.04, false },
    { "dr_grpo off-policy", "dr_grpo", 0.1, -1, 0.0, true },
    { "dapo off-policy clip-higher", "dapo", 0.2, 0.28, 0.0, true },
    { "dapo off-policy kl tight", "dapo", 0.05, 0.1, 0.5, true },
    { "dapo on-policy", "dapo", 0.2, 0.28, 0.0, false },
};

} // namespace

class TestGrpoReference : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void lossMatchesTrl()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        json cases = json::array();
        at::manual_seed(19);
        const std::int64_t n = 6, c = 5;
        for (const Case& k : kCases) {
            const at::Tensor logp = -at::rand({ n, c }, at::kDouble) * 3.0;
            const at::Tensor old = k.old ? logp + (at::rand({ n, c }, at::kDouble) - 0.5) * 0.6 : at::Tensor();
            const at::Tensor ref = logp + (at::rand({ n, c }, at::kDouble) - 0.5);
            const at::Tensor adv = at::randn({ n }, at::kDouble);
            const at::Tensor lengths = at::randint(1, c + 1, { n, 1 }, at::kLong);
            const at::Tensor mask = (at::arange(c, at::kLong).unsqueeze(0) < lengths).to(at::kDouble);
            GrpoLossOptions o;
            o.type = grpoLossTypeFromString(k.lossType);
            o.epsilonLow = k.epsilon;
            o.epsilonHigh = k.epsilonHigh < 0 ? k.epsilon : k.epsilonHigh;
            o.beta = k.beta;
            o.maxCompletionLength = c;
            const GrpoLoss l = grpoLoss(logp, old, k.beta > 0 ? ref : at::Tensor(), adv, mask, o);
            json ours = { { "loss", l.loss.item<double>() }, { "clip_ratio", l.clipRatio } };
            if (k.beta > 0)
                ours["kl"] = l.kl;
            cases.push_back({ { "name", k.name }, { "loss_type", k.lossType }, { "epsilon", k.epsilon },
                { "epsilon_high", k.epsilonHigh }, { "beta", k.beta }, { "max_completion_length", c },
                { "logps", rows(logp) }, { "old_logps", k.old ? rows(old) : json(nullptr) },
                { "ref_logps", k.beta > 0 ? rows(ref) : json(nullptr) }, { "entropies", rows(at::ones({ n, c })) },
                { "advantages", rows(adv) }, { "mask", rows(mask) }, { "tunebench", ours } });
        }
        QElapsedTimer timer;
        timer.start();
        const reference::Result r
            = reference::run("trl_grpo.py", {}, QByteArray::fromStdString(json({ { "cases", cases } }).dump()));
        qInfo().noquote() << "trl_grpo.py:" << timer.elapsed() << "ms, exit" << r.code << "\n" << r.err.trimmed();
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json theirs = json::parse(r.out.toStdString());
        QCOMPARE(theirs.at("cases").size(), cases.size());
    }
};

QTEST_GUILESS_MAIN(TestGrpoReference)
#include "test_grpo_reference.moc"
