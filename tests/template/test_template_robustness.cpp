// Bad templates never crash: thousands of random edits of the feature templates
// (deterministic seed) either render or throw an InputError; nothing else escapes.
// Run under -DTUNEBENCH_SANITIZE=ON this also checks memory safety and leaks.

#include "core/template/template_error.h"
#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QtTest>

#include <random>

namespace {

const char* const kFragments[] = {
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "-",
    "+",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "\\",
    " ",
    "\n",
    "|",
    ".",
    "loop",
    "for",
    "in",
    "if",
    "else",
    "endif",
    "endfor",
    "set",
    "macro",
    "endmacro",
    "caller()",
    "x",
    "1",
    "0",
    "**",
    "//",
    "%",
    "~",
    "not",
    "is",
    "defined",
    "messages",
    "raw",
    "endraw",
    "\xc3\xa9",
    "\xff",
    "range(",
    "ns.",
    "namespace(",
    "recursive",
    "loop(",
    ":",
    ",",
    "*",
    "=",
    "|trim",
    "|tojson",
    "|join",
    "|select",
    "|map",
};

} // namespace

class TestTemplateRobustness : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void randomEditsNeverCrash()
    {
        std::vector<std::string> seeds;
        const QDir features(QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/template/features"));
        for (const QString& name : features.entryList({ "*.jinja" }, QDir::Files, QDir::Name)) {
            QFile f(features.filePath(name));
            QVERIFY(f.open(QIODevice::ReadOnly));
            seeds.push_back(f.readAll().toStdString());
        }
        QVERIFY(seeds.size() >= 10);
        const auto messages = nlohmann::ordered_json::parse(
            R"([{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},)"
            R"( {"role": "assistant", "content": "x", "tool_calls": [{"function": {"name": "f", "arguments": {"a": [1]}}}]}])");
        tunebench::jinja::RenderLimits limits;
        limits.maxSteps = 200000;
        limits.maxOutputBytes = 1 << 20;
        std::mt19937 rng(20251121);
        int rendered = 0;
        int refused = 0;
        for (int iteration = 0; iteration < 3000; ++iteration) {
            std::string source = seeds[rng() % seeds.size()];
            for (int edit = 0, edits = 1 + static_cast<int>(rng() % 4); edit < edits; ++edit) {
                const std::size_t at = rng() % (source.size() + 1);
                switch (rng() % 3) {
                case 0:
                    source.insert(at, kFragments[rng() % std::size(kFragments)]);
                    break;
                case 1:
                    source.erase(at, 1 + rng() % 3);
                    break;
                default:
                    if (at < source.size())
                        source[at] = static_cast<char>(rng() % 128);
                }
            }
            try {
                tunebench::ChatTemplate chat(source, "mutant");
                chat.setLimits(limits);
                chat.render(messages, iteration % 2 == 0);
                ++rendered;
            } catch (const tunebench::InputError&) {
                ++refused;
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString("iteration %1: %2 escaped for %3")
                                     .arg(iteration)
                                     .arg(e.what(),
                                         QString::fromStdString(nlohmann::json(source).dump(
                                             -1, ' ', false, nlohmann::json::error_handler_t::replace)))));
            }
        }
        qInfo() << "rendered" << rendered << "refused with an InputError" << refused;
        QVERIFY(rendered > 100);
        QVERIFY(refused > 100);
    }
};

QTEST_GUILESS_MAIN(TestTemplateRobustness)
#include "test_template_robustness.moc"
