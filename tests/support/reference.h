#pragma once

// The references the parity tests compare against, and the shared fixtures.
//
// - The reference environment: a Python virtual environment with the pinned packages of
//   tests/reference/requirements.txt (transformers, peft, trl, tokenizers, gguf, ...),
//   created by scripts/test, which exports TUNEBENCH_REFERENCE_PYTHON. Run by hand,
//   tests also find it in its default place (~/.cache/tunebench/reference-venv). Where it
//   is missing a test skips, unless TUNEBENCH_REQUIRE_REFERENCES=1 (scripts/test sets
//   it), where a missing reference fails the test: CI never passes by skipping them.
// - Shared fixtures: ../shared/fixtures beside the checkout (real tokenizer folders).
//   A user's fresh clone has none: tests skip with a message, never fail for it.

#include <QByteArray>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace reference {

inline const QString kScripts = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/reference");

// The reference Python, or empty with the reason in *why.
inline QString python(QString* why = nullptr)
{
    QString candidate = qEnvironmentVariable("TUNEBENCH_REFERENCE_PYTHON");
    if (candidate.isEmpty())
        candidate = QDir::homePath() + "/.cache/tunebench/reference-venv/bin/python";
    if (QFileInfo(candidate).isExecutable())
        return candidate;
    if (why)
        *why = "no reference environment at " + candidate
            + " (scripts/test creates it from tests/reference/requirements.txt; or set TUNEBENCH_REFERENCE_PYTHON)";
    return {};
}

inline bool required()
{
    return qEnvironmentVariable("TUNEBENCH_REQUIRE_REFERENCES") == "1";
}

struct Result {
    int code = -1; // -1: did not start, did not finish or crashed
    QByteArray out;
    QString err;
};

// Runs tests/reference/SCRIPT with the reference Python; stdin is written when given.
inline Result run(const QString& script, const QStringList& args, const QByteArray& input = {},
    int timeoutMs = 900000)
{
    Result r;
    const QString py = python(&r.err);
    if (py.isEmpty())
        return r;
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // No hub: everything a reference reads is a local folder.
    env.insert("HF_HUB_OFFLINE", "1");
    env.insert("TRANSFORMERS_OFFLINE", "1");
    env.insert("TOKENIZERS_PARALLELISM", "false");
    env.insert("PYTHONDONTWRITEBYTECODE", "1");
    p.setProcessEnvironment(env);
    p.start(py, QStringList { kScripts + "/" + script } + args);
    if (!p.waitForStarted(30000)) {
        r.err = py + ": " + p.errorString();
        return r;
    }
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.err = script + " did not finish in time";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err += QString::fromUtf8(p.readAllStandardError());
    return r;
}

// ../shared/fixtures/RELATIVE beside the checkout (TUNEBENCH_SHARED_DIR overrides
// ../shared), or empty when it is not there.
inline QString sharedFixture(const QString& relative)
{
    QString shared = qEnvironmentVariable("TUNEBENCH_SHARED_DIR");
    if (shared.isEmpty())
        shared = QStringLiteral(TUNEBENCH_SOURCE_DIR "/../shared");
    const QString path = QDir::cleanPath(shared + "/fixtures/" + relative);
    return QFileInfo::exists(path) ? path : QString();
}

} // namespace reference

// In a test function: sets VAR to the reference Python, or skips (fails where references
// are required) with the reason.
#define REQUIRE_REFERENCE_PYTHON(var)                                                                                  \
    QString var;                                                                                                       \
    do {                                                                                                               \
        QString why_;                                                                                                  \
        var = reference::python(&why_);                                                                                \
        if (var.isEmpty()) {                                                                                           \
            if (reference::required())                                                                                 \
                QFAIL(qPrintable(why_));                                                                               \
            QSKIP(qPrintable(why_));                                                                                   \
        }                                                                                                              \
    } while (false)

// In a test function: sets VAR to ../shared/fixtures/RELATIVE, or skips with a message.
#define REQUIRE_SHARED_FIXTURE(var, relative)                                                                          \
    const QString var = reference::sharedFixture(relative);                                                            \
    do {                                                                                                               \
        if (var.isEmpty())                                                                                             \
            QSKIP(qPrintable(QString("../shared/fixtures/%1 is not beside this checkout (a fresh clone has none): "  \
                                     "the test needs the real tokenizer files")                                        \
                                 .arg(relative)));                                                                     \
    } while (false)
