// Activation checkpointing (core/model/checkpointing, CausalLM::setGradientCheckpointing):
// the same loss and the same gradients as without it, on every architecture, for full
// fine-tuning and for a low-rank hook with dropout on frozen weights (which needs the
// random generator replayed in backward), with padding and packed segments.
#include "model/model_test_support.h"

#include "core/model/checkpointing.h"
#include "core/model/linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <QtTest/QtTest>

#include <map>

using namespace tunebench;

namespace {

// h = W x + B A dropout(x): LoRA's shape, written here so the test depends on no plugin.
class DropoutLowRank final : public LinearHook {
public:
    DropoutLowRank(at::Tensor a, at::Tensor b)
        : m_a(std::move(a))
        , m_b(std::move(b))
    { }
    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        const at::Tensor dropped = at::GradMode::is_enabled() ? at::dropout(x, 0.3, true) : x;
        return layer.baseForward(x) + at::matmul(at::matmul(dropped, m_a.t()), m_b.t());
    }

private:
    at::Tensor m_a;
    at::Tensor m_b;
};

struct Outcome {
    double loss = 0;
    std::map<std::string, at::Tensor> grads;
};

enum class Mode { Full, LowRankDropout };

at::Tensor nextTokenLoss(const at::Tensor& logits, const at::Tensor& ids, const at::Tensor& mask)
{
    const std::int64_t t = ids.size(1);
    const at::Tensor predicted = logits.narrow(1, 0, t - 1).reshape({ -1, logits.size(-1) });
    at::Tensor targets = ids.narrow(1, 1, t - 1).clone();
    if (mask.defined())
        targets.masked_fill_(mask.narrow(1, 1, t - 1).logical_not(), -100);
    return at::cross_entropy_loss(predicted, targets.reshape({ -1 }), {}, at::Reduction::Mean, -100);
}

// One forward and backward of a fresh model (same seed each time), so the two runs start equal.
Outcome run(const ModelConfig& config, Mode mode, bool checkpointing, bool padded, bool packed)
{
    std::unique_ptr<CausalLM> model = createRandomCausalLM(config, 5);
    std::map<std::string, at::Tensor> trainable;
    if (mode == Mode::Full) {
        model->setRequiresGrad(true);
        for (const auto& [name, tensor] : model->namedParameters())
            trainable[name] = tensor;
    } else {
        model->setRequiresGrad(false);
        at::Generator gen = at::detail::createCPUGenerator(9);
        for (Linear* layer : model->linears()) {
            if (layer->name().find("lm_head") != std::string::npos)
                continue;
            at::Tensor a = (at::randn({ 2, layer->inFeatures() }, gen) * 0.3).requires_grad_(true);
            at::Tensor b = (at::randn({ layer->outFeatures(), 2 }, gen) * 0.3).requires_grad_(true);
            trainable[layer->name() + ".a"] = a;
            trainable[layer->name() + ".b"] = b;
            layer->setHook(std::make_shared<DropoutLowRank>(a, b));
        }
    }
    model->setGradientCheckpointing(checkpointing);

    ForwardInput in;
    in.inputIds = model_test::randomIds(3, 10, 21);
    if (padded) {
        in.attentionMask = at::ones({ 3, 10 }, at::kLong);
        in.attentionMask.index_put_({ 1, at::indexing::Slice(7, at::indexing::None) }, 0);
    }
    if (packed) {
        in.segmentIds = at::ones({ 3, 10 }, at::kLong);
        in.segmentIds.index_put_({ at::indexing::Slice(), at::indexing::Slice(4, at::indexing::None) }, 2);
        in.positionIds = at::cat({ at::arange(4, at::kLong), at::arange(6, at::kLong) }).expand({ 3, 10 }).contiguous();
    }
    at::manual_seed(1234); // the dropout masks
    const at::Tensor loss = nextTokenLoss(model->forward(in).logits, in.inputIds, in.attentionMask);
    loss.backward();
    Outcome out;
    out.loss = loss.item<double>();
    for (const auto& [name, tensor] : trainable)
        out.grads[name] = tensor.grad().defined() ? tensor.grad().clone() : at::zeros_like(tensor);
    return out;
}

} // namespace

class TestCheckpointing : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { at::set_num_threads(1); }

    void sameGradients_data()
    {
        QTest::addColumn<int>("arch");
        QTest::addColumn<int>("mode");
        QTest::addColumn<bool>("padded");
        QTest::addColumn<bool>("packed");
        const auto configs = model_test::architectureConfigs();
        for (std::size_t i = 0; i < configs.size(); ++i) {
            const std::string& name = configs[i].first;
            QTest::addRow("%s full", name.c_str()) << int(i) << int(Mode::Full) << false << false;
            QTest::addRow("%s low-rank dropout, padded", name.c_str())
                << int(i) << int(Mode::LowRankDropout) << true << false;
            QTest::addRow("%s low-rank dropout, packed", name.c_str())
                << int(i) << int(Mode::LowRankDropout) << false << true;
        }
    }

    void sameGradients()
    {
        QFETCH(int, arch);
        QFETCH(int, mode);
        QFETCH(bool, padded);
        QFETCH(bool, packed);
        const ModelConfig config = model_test::architectureConfigs()[static_cast<std::size_t>(arch)].second;
        const Outcome plain = run(config, static_cast<Mode>(mode), false, padded, packed);
        const Outcome checkpointed = run(config, static_cast<Mode>(mode), true, padded, packed);
        QCOMPARE(checkpointed.loss, plain.loss);
        QCOMPARE(checkpointed.grads.size(), plain.grads.size());
        double worst = 0;
        for (const auto& [name, grad] : plain.grads) {
            const at::Tensor& other = checkpointed.grads.at(name);
            const double scale = std::max(grad.abs().max().item<double>(), 1e-12);
            worst = std::max(worst, (other - grad).abs().max().item<double>() / scale);
        }
        // The rerun repeats the same operations on the same inputs: only summation order in
        // the reentrant backward may differ.
        QVERIFY2(worst < 1e-5, qPrintable(QStringLiteral("worst relative gradient difference %1").arg(worst)));
        // And the gradients are not all zero (dropout replayed wrongly would still give some).
        bool any = false;
        for (const auto& [name, grad] : plain.grads)
            any = any || grad.abs().sum().item<double>() > 0;
        QVERIFY(any);
    }

    // Dropout that ran with different masks in the first run and the rerun would give other
    // gradients: changing the generator between forward and backward must not matter.
    void generatorBetweenForwardAndBackward()
    {
        const ModelConfig config = model_test::architectureConfigs().front().second;
        const Outcome plain = run(config, Mode::LowRankDropout, false, false, false);
        std::unique_ptr<CausalLM> model = createRandomCausalLM(config, 5);
        model->setRequiresGrad(false);
        at::Generator gen = at::detail::createCPUGenerator(9);
        std::map<std::string, at::Tensor> trainable;
        for (Linear* layer : model->linears()) {
            if (layer->name().find("lm_head") != std::string::npos)
                continue;
            at::Tensor a = (at::randn({ 2, layer->inFeatures() }, gen) * 0.3).requires_grad_(true);
            at::Tensor b = (at::randn({ layer->outFeatures(), 2 }, gen) * 0.3).requires_grad_(true);
            trainable[layer->name() + ".a"] = a;
            trainable[layer->name() + ".b"] = b;
            layer->setHook(std::make_shared<DropoutLowRank>(a, b));
        }
        model->setGradientCheckpointing(true);
        ForwardInput in;
        in.inputIds = model_test::randomIds(3, 10, 21);
        at::manual_seed(1234);
        const at::Tensor loss = nextTokenLoss(model->forward(in).logits, in.inputIds, {});
        (void)at::rand({ 100 }); // the generator moves on
        const at::Tensor stateBefore = at::detail::getDefaultCPUGenerator().get_state();
        loss.backward();
        QCOMPARE(loss.item<double>(), plain.loss);
        for (const auto& [name, grad] : plain.grads)
            QVERIFY2(at::allclose(trainable.at(name).grad(), grad, 1e-5, 1e-7), name.c_str());
        // ... and backward leaves the generator where the caller had it.
        QVERIFY(at::equal(at::detail::getDefaultCPUGenerator().get_state(), stateBefore));
    }

    void noGradIsPlainForward()
    {
        const ModelConfig config = model_test::architectureConfigs().front().second;
        std::unique_ptr<CausalLM> model = createRandomCausalLM(config, 5);
        const at::Tensor ids = model_test::randomIds(2, 6, 3);
        const at::Tensor before = model_test::logitsOf(*model, ids);
        model->setGradientCheckpointing(true);
        model->setRequiresGrad(true);
        const at::Tensor after = model_test::logitsOf(*model, ids);
        QVERIFY(at::equal(before, after));
        QVERIFY(!after.requires_grad());
    }

    // Nothing in the layer needs a gradient: no node is made, the output is plain.
    void frozenLayerMakesNoNode()
    {
        const at::Tensor x = at::randn({ 2, 3 });
        const at::Tensor y = checkpointedLayer([](const at::Tensor& h) { return h * 2; }, x);
        QVERIFY(!y.requires_grad());
        QVERIFY(at::equal(y, x * 2));
    }
};

QTEST_GUILESS_MAIN(TestCheckpointing)
#include "test_checkpointing.moc"
