// Generation on every architecture: greedy equals an argmax loop over full
// recomputation, batched prompts equal singles, seeded sampling reproduces,
// EOS ids and stop strings stop; and the samplers' filters and distribution.

#include "core/model/generate.h"
#include "core/model/model_writer.h"
#include "core/util/error.h"

#include "model_test_support.h"

#include <QtTest>

#include <ATen/CPUGeneratorImpl.h>

using namespace tunebench;

namespace {

std::vector<std::int32_t> prompt(std::int64_t length, std::uint64_t seed)
{
    const at::Tensor ids = model_test::randomIds(1, length, seed);
    std::vector<std::int32_t> out;
    for (std::int64_t i = 0; i < length; ++i)
        out.push_back(static_cast<std::int32_t>(ids[0][i].item<std::int64_t>()));
    return out;
}

// Each id as "<id>", so a stop string can span token boundaries.
std::string decodeIds(std::span<const std::int32_t> ids)
{
    std::string out;
    for (auto id : ids) {
        out += '<';
        out += std::to_string(id);
        out += '>';
    }
    return out;
}

} // namespace

class TestGenerate : public QObject {
    Q_OBJECT

    ModelConfig m_config;
    std::unique_ptr<CausalLM> m_model;

    void makeModel()
    {
        QFETCH(int, row);
        m_config = model_test::architectureConfigs()[static_cast<std::size_t>(row)].second;
        m_model = createRandomCausalLM(m_config, 4321 + static_cast<std::uint64_t>(row));
    }

    static void architectureRows()
    {
        QTest::addColumn<int>("row");
        int i = 0;
        for (const auto& [name, config] : model_test::architectureConfigs())
            QTest::newRow(name.c_str()) << i++;
    }

    std::vector<std::int32_t> greedy(const std::vector<std::int32_t>& p, std::int64_t n) const
    {
        GenerationOptions o;
        o.maxNewTokens = n;
        return generate(*m_model, { p }, o)[0].tokens;
    }

private Q_SLOTS:
    void greedyMatchesFullRecomputation_data() { architectureRows(); }
    void greedyMatchesFullRecomputation()
    {
        makeModel();
        const auto p = prompt(5, 1);
        const auto generated = greedy(p, 10);
        QCOMPARE(generated.size(), std::size_t(10));
        // The reference: argmax over the whole sequence recomputed each step, no cache.
        std::vector<std::int64_t> sequence(p.begin(), p.end());
        for (int step = 0; step < 10; ++step) {
            ForwardInput in;
            in.inputIds = at::tensor(sequence, at::kLong).unsqueeze(0);
            const at::Tensor logits = m_model->forward(in).logits;
            sequence.push_back(logits[0][logits.size(1) - 1].argmax().item<std::int64_t>());
        }
        const std::vector<std::int32_t> expected(sequence.begin() + 5, sequence.end());
        QCOMPARE(generated, expected);
        QCOMPARE(greedy(p, 10), generated); // deterministic
    }

    void batchedPromptsEqualSingles_data() { architectureRows(); }
    void batchedPromptsEqualSingles()
    {
        makeModel();
        const std::vector<std::vector<std::int32_t>> prompts { prompt(2, 2), prompt(7, 3), prompt(4, 4) };
        GenerationOptions o;
        o.maxNewTokens = 8;
        const auto batched = generate(*m_model, prompts, o);
        QCOMPARE(batched.size(), prompts.size());
        for (std::size_t i = 0; i < prompts.size(); ++i)
            QCOMPARE(batched[i].tokens, greedy(prompts[i], 8));
        // Sampled rows of a batch draw independently: identical prompts diverge.
        o.sample = true;
        o.sampling.temperature = 2.0;
        o.seed = 5;
        const auto same = generate(*m_model, { prompts[1], prompts[1], prompts[1] }, o);
        QVERIFY(same[0].tokens != same[1].tokens || same[1].tokens != same[2].tokens);
    }

    void seededSamplingReproduces_data() { architectureRows(); }
    void seededSamplingReproduces()
    {
        makeModel();
        const auto p = prompt(4, 6);
        GenerationOptions o;
        o.maxNewTokens = 16;
        o.sample = true;
        o.sampling = { 1.3, 40, 0.95 };
        o.seed = 42;
        const auto first = generate(*m_model, { p, prompt(2, 7) }, o);
        const auto again = generate(*m_model, { p, prompt(2, 7) }, o);
        QCOMPARE(first[0].tokens, again[0].tokens);
        QCOMPARE(first[1].tokens, again[1].tokens);
        bool differs = false;
        for (std::uint64_t seed : { 1, 2, 3, 4 }) {
            o.seed = seed;
            differs = differs || generate(*m_model, { p, prompt(2, 7) }, o)[0].tokens != first[0].tokens;
        }
        QVERIFY(differs);
        // Top-k 1 is greedy whatever the seed and temperature.
        o.sampling = { 5.0, 1, 1.0 };
        QCOMPARE(generate(*m_model, { p }, o)[0].tokens, greedy(p, 16));
    }

    void eosStops_data() { architectureRows(); }
    void eosStops()
    {
        makeModel();
        const auto p = prompt(3, 8);
        const auto free = greedy(p, 12);
        GenerationOptions o;
        o.maxNewTokens = 12;
        o.eosTokenIds = { free[4] };
        const auto first = std::find(free.begin(), free.end(), free[4]) - free.begin();
        auto result = generate(*m_model, { p }, o)[0];
        QCOMPARE(result.reason, FinishReason::Eos);
        QCOMPARE(result.tokens, std::vector<std::int32_t>(free.begin(), free.begin() + first + 1));
        // Several EOS ids: the earliest one to appear stops.
        o.eosTokenIds = { free[9], free[6] };
        const auto earliest = std::min(std::find(free.begin(), free.end(), free[9]) - free.begin(),
            std::find(free.begin(), free.end(), free[6]) - free.begin());
        result = generate(*m_model, { p }, o)[0];
        QCOMPARE(result.tokens.size(), static_cast<std::size_t>(earliest + 1));
        // A batch: each row stops on its own; an unfinished row runs to the length.
        o.eosTokenIds = { free[0] };
        const auto rows = generate(*m_model, { p, prompt(6, 9) }, o);
        QCOMPARE(rows[0].tokens.size(), std::size_t(1));
        QCOMPARE(rows[0].reason, FinishReason::Eos);
        QCOMPARE(rows[1].tokens, [&] {
            auto g = greedy(prompt(6, 9), 12);
            auto it = std::find(g.begin(), g.end(), free[0]);
            return std::vector<std::int32_t>(g.begin(), it == g.end() ? g.end() : it + 1);
        }());
        o.eosTokenIds = {};
        o.maxNewTokens = 12;
        QCOMPARE(generate(*m_model, { p }, o)[0].reason, FinishReason::Length);
    }

    void stopStrings_data() { architectureRows(); }
    void stopStrings()
    {
        makeModel();
        const auto p = prompt(4, 10);
        const auto free = greedy(p, 12);
        // A stop string made of the end of token 3 and the start of token 4.
        std::string stop = std::to_string(free[3]);
        stop += "><";
        stop += std::to_string(free[4]).substr(0, 1);
        std::size_t expected = 0;
        while (decodeIds(std::span(free.data(), expected)).find(stop) == std::string::npos)
            ++expected;
        GenerationOptions o;
        o.maxNewTokens = 12;
        o.stopStrings = { "never appears", stop };
        o.decoder = decodeIds;
        const auto result = generate(*m_model, { p }, o)[0];
        QCOMPARE(result.reason, FinishReason::StopString);
        QCOMPARE(result.tokens,
            std::vector<std::int32_t>(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(expected)));
        QVERIFY(expected <= 5);
    }

    void gpt2LengthIsCapped()
    {
        const auto configs = model_test::architectureConfigs();
        const ModelConfig& config = configs.back().second;
        QCOMPARE(config.architecture, Architecture::Gpt2);
        auto model = createRandomCausalLM(config, 1);
        GenerationOptions o;
        o.maxNewTokens = 50;
        const auto result = generate(*model, { prompt(60, 11) }, o)[0];
        QCOMPARE(result.tokens.size(), std::size_t(4)); // n_positions 64
        QCOMPARE(result.reason, FinishReason::Length);
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { prompt(64, 12) }, o));
    }

    void badRequests()
    {
        auto model = createRandomCausalLM(model_test::architectureConfigs()[0].second, 1);
        GenerationOptions o;
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, {}, o));
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { {} }, o));
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { { 1, 500 } }, o));
        o.stopStrings = { "x" };
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { { 1 } }, o));
        o.stopStrings = {};
        o.sample = true;
        o.sampling.temperature = 0;
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { { 1 } }, o));
        o.sampling = { 1.0, -1, 1.0 };
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { { 1 } }, o));
        o.sampling = { 1.0, 0, 1.5 };
        QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { { 1 } }, o));
    }

    void filters()
    {
        const at::Tensor logits = at::log(at::tensor({ 0.2, 0.5, 0.3 }, at::kFloat)).unsqueeze(0);
        auto kept = [&](SamplingOptions o) {
            const at::Tensor f = filterLogits(logits, o)[0];
            std::vector<int> out;
            for (int i = 0; i < 3; ++i)
                out.push_back(std::isfinite(f[i].item<float>()) ? 1 : 0);
            return out;
        };
        QCOMPARE(kept({ 1.0, 0, 1.0 }), (std::vector<int> { 1, 1, 1 }));
        QCOMPARE(kept({ 1.0, 2, 1.0 }), (std::vector<int> { 0, 1, 1 }));
        QCOMPARE(kept({ 1.0, 1, 1.0 }), (std::vector<int> { 0, 1, 0 }));
        // top-p: drop the ascending tail whose cumulative probability is <= 1 - p.
        QCOMPARE(kept({ 1.0, 0, 0.9 }), (std::vector<int> { 1, 1, 1 }));
        QCOMPARE(kept({ 1.0, 0, 0.6 }), (std::vector<int> { 0, 1, 1 }));
        QCOMPARE(kept({ 1.0, 0, 0.5 }), (std::vector<int> { 0, 1, 0 }));
        QCOMPARE(kept({ 1.0, 0, 0.01 }), (std::vector<int> { 0, 1, 0 }));
        // Temperature divides before the filters.
        const at::Tensor hot = filterLogits(logits, { 2.0, 0, 1.0 });
        QVERIFY(at::allclose(hot, logits / 2.0));
    }

    // The inverse-CDF sampler draws from softmax(logits).
    void samplingDistribution()
    {
        const at::Tensor probs = at::tensor({ 0.1, 0.0, 0.6, 0.3 }, at::kFloat);
        const at::Tensor logits = at::log(probs).unsqueeze(0).expand({ 20000, 4 }).contiguous();
        at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
        const at::Tensor draws = sampleTokens(logits, {}, g);
        const at::Tensor counts = at::bincount(draws, {}, 4).to(at::kDouble) / 20000.0;
        QCOMPARE(counts[1].item<double>(), 0.0);
        QVERIFY(at::allclose(counts, probs.to(at::kDouble), 0, 0.015));
        QVERIFY(at::equal(greedyTokens(logits.narrow(0, 0, 2)), at::full({ 2 }, 2, at::kLong)));
    }
};

QTEST_GUILESS_MAIN(TestGenerate)
#include "test_generate.moc"
