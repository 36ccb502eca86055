// Data-parallel training through the command line, Gloo on loopback, one thread per rank: 2 and 3
// ranks give the single process's step losses and final parameters (the single process reading the
// same global batch: accumulation x ranks micro-batches per step) for full fine-tuning, LoRA and DPO,
// with accumulation and packing; a torchrun-style start from the environment; a rank killed (or hung)
// mid-run fails the run naming it, and --resume continues from the last checkpoint; a master port in
// use or an unreachable master is an error saying which; two hosts in two network namespaces (as
// root) give the same numbers.

#include "core/model/safetensors.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr double kTolerance = 1e-5;

// A port nothing listens on now (the kernel's pick), for one rendezvous.
int freePort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t n = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::map<int, double> stepLosses(const QString& out)
{
    std::map<int, double> losses;
    for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
        const json e = json::parse(line.toStdString(), nullptr, false);
        if (e.is_object() && e.value("event", "") == "step")
            losses[e["step"].get<int>()] = e["loss"].get<double>();
    }
    return losses;
}

std::int64_t runIdOf(const QString& out)
{
    for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
        const json e = json::parse(line.toStdString(), nullptr, false);
        if (e.is_object() && e.value("event", "") == "start" && e["run_id"].is_number_integer())
            return e["run_id"].get<std::int64_t>();
    }
    return 0;
}

std::map<std::string, at::Tensor> adapterOf(const QString& ws, std::int64_t runId)
{
    const fs::path file
        = fs::path(ws.toStdString()) / "runs" / std::to_string(runId) / "adapter" / "adapter.safetensors";
    std::map<std::string, at::Tensor> out;
    if (!fs::exists(file))
        return out;
    const SafetensorsFile f = SafetensorsFile::open(file);
    for (const std::string& name : f.names())
        out[name] = f.tensor(name).to(at::kDouble);
    return out;
}

// Worst relative difference: of each step's loss, and of each tensor (its largest element difference over
// its largest magnitude). Empty `why` when the two runs have the same steps and tensors.
struct Comparison {
    double loss = 0;
    double parameters = 0;
    QString why;
};

Comparison compareRuns(const std::map<int, double>& lossesA, const std::map<int, double>& lossesB,
    const std::map<std::string, at::Tensor>& paramsA, const std::map<std::string, at::Tensor>& paramsB)
{
    Comparison c;
    if (lossesA.size() != lossesB.size() || lossesA.empty())
        c.why = QString("%1 step losses against %2").arg(lossesA.size()).arg(lossesB.size());
    for (const auto& [step, loss] : lossesB) {
        const auto it = lossesA.find(step);
        if (it == lossesA.end()) {
            c.why = QString("no loss for step %1").arg(step);
            continue;
        }
        c.loss = std::max(c.loss, std::abs(it->second - loss) / std::max(std::abs(loss), 1e-12));
    }
    if (paramsA.size() != paramsB.size() || paramsA.empty())
        c.why = QString("%1 tensors against %2").arg(paramsA.size()).arg(paramsB.size());
    for (const auto& [name, b] : paramsB) {
        const auto it = paramsA.find(name);
        if (it == paramsA.end()) {
            c.why = QString("no tensor %1").arg(QString::fromStdString(name));
            continue;
        }
        const double scale = std::max(b.abs().max().item<double>(), 1e-12);
        c.parameters = std::max(c.parameters, (it->second - b).abs().max().item<double>() / scale);
    }
    return c;
}

std::vector<pid_t> childrenOf(pid_t pid)
{
    std::vector<pid_t> out;
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    pid_t child = 0;
    while (in >> child)
        out.push_back(child);
    return out;
}

// The launcher's child whose environment says RANK=rank.
pid_t rankProcess(pid_t launcher, int rank)
{
    for (const pid_t child : childrenOf(launcher)) {
        std::ifstream in("/proc/" + std::to_string(child) + "/environ", std::ios::binary);
        const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (env.find(std::string(1, '\0') + "RANK=" + std::to_string(rank) + '\0') != std::string::npos
            || env.rfind("RANK=" + std::to_string(rank) + '\0', 0) == 0)
            return child;
    }
    return -1;
}

bool commandWorks(const QString& program, const QStringList& args)
{
    QProcess p;
    p.start(program, args);
    return p.waitForFinished(20000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

} // namespace

class TestDistributed : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    json m_base; // the run configuration every case starts from
    std::map<QString, std::pair<std::map<int, double>, std::map<std::string, at::Tensor>>> m_single; // by key
    std::map<QString, std::pair<double, double>> m_worst; // reported at the end

    QString newWorkspace(const QString& name)
    {
        const QString ws = m_dir.path() + "/" + name;
        const CliResult r = runCli({ "workspace", "init", ws });
        if (r.code != 0)
            qWarning("%s", qPrintable(r.err));
        return ws;
    }

    QString writeConfig(const QString& name, const json& config)
    {
        const QString path = m_dir.path() + "/" + name + ".json";
        writeTextFile(path, QByteArray::fromStdString(config.dump(2)));
        return path;
    }

    json caseConfig(
        const QString& adapter, int accumulation, bool packing, int steps = 4, const QString& objective = "sft") const
    {
        json c = m_base;
        if (objective != "sft") {
            c["objective"] = objective.toStdString();
            c["dataset"] = (fs::path(m_dir.path().toStdString()) / "pairs.jsonl").string();
            c["beta"] = 0.2;
        }
        c["adapter"] = adapter.toStdString();
        if (adapter == "lora") {
            c["r"] = 4;
            c["lora_alpha"] = 8;
            c["lora_dropout"] = 0.0;
            c["target_modules"] = { "q_proj", "v_proj" };
        }
        c["gradient_accumulation_steps"] = accumulation;
        c["packing"] = packing;
        c["max_steps"] = steps;
        return c;
    }

    // The single process reading the same global batches: accumulation x ranks micro-batches a step.
    const std::pair<std::map<int, double>, std::map<std::string, at::Tensor>>& singleProcess(
        const QString& adapter, int globalMicro, bool packing, int steps = 4, const QString& objective = "sft")
    {
        const QString key
            = QString("%1-%2-%3-%4-%5").arg(adapter).arg(globalMicro).arg(packing).arg(steps).arg(objective);
        auto it = m_single.find(key);
        if (it != m_single.end())
            return it->second;
        const QString ws = newWorkspace("single-" + key);
        const CliResult r = runCli(
            { "train", writeConfig("single-" + key, caseConfig(adapter, globalMicro, packing, steps, objective)),
                "--workspace", ws });
        if (r.code != 0)
            qWarning("single process: %s", qPrintable(r.err));
        return m_single[key] = { stepLosses(r.out), adapterOf(ws, runIdOf(r.out)) };
    }

    void record(const QString& what, const Comparison& c)
    {
        m_worst[what] = { c.loss, c.parameters };
        qInfo("%s: worst relative difference %.3g (losses), %.3g (parameters)", qPrintable(what), c.loss, c.parameters);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        {
            std::ofstream out(root / "data.jsonl");
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill", "rain fell", "a long road went on and on past the farms" };
            for (int i = 0; i < 30; ++i)
                out << json({ { "instruction", "say something " + std::to_string(i) }, { "output", lines[i % 6] } })
                           .dump()
                    << "\n";
        }
        {
            std::ofstream out(root / "pairs.jsonl");
            const char* good[] = { "the cat sat on the mat", "the sun rose over the hill", "rain fell softly" };
            const char* bad[] = { "mat the on", "hill hill hill", "no" };
            for (int i = 0; i < 24; ++i)
                out << json({ { "prompt", "write line " + std::to_string(i) }, { "chosen", good[i % 3] },
                                { "rejected", bad[(i + 1) % 3] } })
                           .dump()
                    << "\n";
        }
        m_base = { { "model", (root / "model").string() }, { "dataset", (root / "data.jsonl").string() },
            { "objective", "sft" }, { "learning_rate", 1e-2 }, { "per_device_train_batch_size", 2 },
            { "lr_scheduler_type", "cosine" }, { "warmup_steps", 1 }, { "seed", 42 }, { "cutoff_len", 64 },
            { "threads", 1 }, { "max_grad_norm", 1.0 } };
    }

    void matchesOneProcess_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<int>("ranks");
        QTest::addColumn<int>("accumulation");
        QTest::addColumn<bool>("packing");
        QTest::addColumn<QString>("objective");
        QTest::addColumn<int>("bucketBytes"); // 0: the default (one bucket on these models)
        QTest::newRow("full, 2 ranks") << "full" << 2 << 1 << false << "sft" << 0;
        QTest::newRow("full, 3 ranks, accumulation 2, 4 KB buckets") << "full" << 3 << 2 << false << "sft" << 4096;
        QTest::newRow("lora, 2 ranks, accumulation 2") << "lora" << 2 << 2 << false << "sft" << 0;
        QTest::newRow("lora, 3 ranks, 1 KB buckets") << "lora" << 3 << 1 << false << "sft" << 1024;
        QTest::newRow("lora, 2 ranks, packing") << "lora" << 2 << 1 << true << "sft" << 0;
        QTest::newRow("dpo, lora, 2 ranks, accumulation 2") << "lora" << 2 << 2 << false << "dpo" << 0;
    }

    void matchesOneProcess()
    {
        QFETCH(QString, adapter);
        QFETCH(int, ranks);
        QFETCH(int, accumulation);
        QFETCH(bool, packing);
        QFETCH(QString, objective);
        QFETCH(int, bucketBytes);
        const auto& single = singleProcess(adapter, ranks * accumulation, packing, 4, objective);
        const QString name
            = QString("%1-%2-%3-%4-%5").arg(adapter).arg(ranks).arg(accumulation).arg(packing).arg(objective);
        const QString ws = newWorkspace("ddp-" + name);
        QProcessEnvironment environment;
        if (bucketBytes > 0)
            environment.insert("TUNEBENCH_DIST_BUCKET_BYTES", QString::number(bucketBytes));
        const CliResult r
            = runCli({ "train", writeConfig("ddp-" + name, caseConfig(adapter, accumulation, packing, 4, objective)),
                         "--workspace", ws, "--nproc-per-node", QString::number(ranks), "--master-port",
                         QString::number(freePort()) },
                environment);
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const std::int64_t id = runIdOf(r.out);
        QVERIFY(id > 0);
        const Comparison c = compareRuns(stepLosses(r.out), single.first, adapterOf(ws, id), single.second);
        QVERIFY2(c.why.isEmpty(), qPrintable(c.why));
        record(QTest::currentDataTag(), c);
        QVERIFY2(c.loss <= kTolerance, qPrintable(QString("loss differs by %1 relative").arg(c.loss)));
        QVERIFY2(c.parameters <= kTolerance, qPrintable(QString("parameters differ by %1 relative").arg(c.parameters)));
        // Rank 0 alone writes: one run, its step events carry every rank's throughput.
        Workspace w = Workspace::open(ws.toStdString());
        QCOMPARE(RunStore(w.db()).list().size(), std::size_t(1));
        bool perRank = false;
        std::int64_t buckets = 0;
        std::int64_t fromHooks = 0;
        for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            const json e = json::parse(line.toStdString(), nullptr, false);
            if (e.is_object() && e.value("event", "") == "step") {
                perRank = e["rank_tokens_per_s"].size() == static_cast<std::size_t>(ranks)
                    && e["rank_comm_seconds"].size() == static_cast<std::size_t>(ranks)
                    && e["allreduce_bytes"].get<std::int64_t>() > 0;
                buckets = e["allreduce_buckets"].get<std::int64_t>();
                fromHooks = e["buckets_overlapped"].get<std::int64_t>();
            }
        }
        QVERIFY2(perRank, qPrintable(r.out));
        // Every bucket goes out from the gradient hooks, during backward.
        QVERIFY2((bucketBytes == 0 ? buckets == 1 : buckets > 1) && fromHooks == buckets,
            qPrintable(QString("%1 buckets, %2 from hooks").arg(buckets).arg(fromHooks)));
    }

    // Two processes started as torchrun starts them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
    void environmentStart()
    {
        const auto& single = singleProcess("lora", 2, false);
        const QString ws = newWorkspace("torchrun");
        const QString config = writeConfig("torchrun", caseConfig("lora", 1, false));
        const int port = freePort();
        QProcess ranks[2];
        for (int r = 0; r < 2; ++r) {
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.remove("TUNEBENCH_WORKSPACE");
            env.insert("RANK", QString::number(r));
            env.insert("LOCAL_RANK", QString::number(r));
            env.insert("WORLD_SIZE", "2");
            env.insert("MASTER_ADDR", "127.0.0.1");
            env.insert("MASTER_PORT", QString::number(port));
            ranks[r].setProcessEnvironment(env);
            ranks[r].start(TUNEBENCH_CLI, { "train", config, "--workspace", ws });
        }
        for (QProcess& p : ranks)
            QVERIFY(p.waitForFinished(180000));
        const QString out = QString::fromUtf8(ranks[0].readAllStandardOutput());
        QVERIFY2(ranks[0].exitCode() == 0 && ranks[1].exitCode() == 0,
            qPrintable(out + ranks[0].readAllStandardError() + ranks[1].readAllStandardError()));
        QVERIFY2(ranks[1].readAllStandardOutput().isEmpty(), "rank 1 printed events");
        const Comparison c = compareRuns(stepLosses(out), single.first, adapterOf(ws, runIdOf(out)), single.second);
        QVERIFY2(c.why.isEmpty(), qPrintable(c.why));
        record("lora, 2 ranks from the environment", c);
        QVERIFY(c.loss <= kTolerance && c.parameters <= kTolerance);
    }

    // Rank 1 killed (or stopped, so that it hangs) after the first checkpoint: the launcher fails the run
    // naming rank 1 and its host, the checkpoint stays, and --resume on two ranks ends with the
    // single process's losses and parameters.
    void failedRankThenResume_data()
    {
        QTest::addColumn<bool>("hang");
        QTest::newRow("killed") << false;
        QTest::newRow("hung") << true;
    }

    void failedRankThenResume()
    {
        QFETCH(bool, hang);
        constexpr int kSteps = 40;
        const auto& single = singleProcess("lora", 2, false, kSteps);
        const QString tag = hang ? "hung" : "killed";
        const QString ws = newWorkspace("fault-" + tag);
        json config = caseConfig("lora", 1, false, kSteps);
        config["save_steps"] = 3;
        config["distributed"] = { { "nproc_per_node", 2 }, { "master_port", freePort() }, { "timeout_s", 4 } };
        const QString file = writeConfig("fault-" + tag, config);
        QProcess launcher;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("TUNEBENCH_WORKSPACE");
        launcher.setProcessEnvironment(env);
        launcher.start(TUNEBENCH_CLI, { "train", file, "--workspace", ws });
        QString out;
        QElapsedTimer timer;
        timer.start();
        pid_t victim = -1;
        while (timer.elapsed() < 120000 && launcher.state() != QProcess::NotRunning) {
            launcher.waitForReadyRead(20);
            out += QString::fromUtf8(launcher.readAllStandardOutput());
            if (out.contains("\"event\":\"checkpoint\"")) {
                victim = rankProcess(static_cast<pid_t>(launcher.processId()), 1);
                // Stopped first, so the others wait at their next all-reduce: the run cannot end meanwhile.
                ::kill(victim, SIGSTOP);
                if (!hang)
                    ::kill(victim, SIGKILL);
                break;
            }
        }
        QVERIFY2(victim > 0, qPrintable(out));
        QVERIFY(launcher.waitForFinished(120000));
        out += QString::fromUtf8(launcher.readAllStandardOutput());
        const QString err = QString::fromUtf8(launcher.readAllStandardError());
        QCOMPARE(launcher.exitCode(), 1);
        const std::int64_t id = runIdOf(out);
        QVERIFY(id > 0);
        Workspace w = Workspace::open(ws.toStdString());
        const auto run = RunStore(w.db()).find(id);
        QVERIFY(run);
        QVERIFY(run->status == RunStatus::Failed);
        const QString error = QString::fromStdString(run->error);
        QVERIFY2(error.contains("rank 1") && error.contains("host "), qPrintable(error + "\n" + err));
        QVERIFY2(hang ? error.contains("did not stop within distributed.timeout_s") : error.contains("signal 9"),
            qPrintable(error));
        QVERIFY(stepLosses(out).size() < std::size_t(kSteps));

        const CliResult resumed = runCli({ "train", "--resume", QString::number(id), "--workspace", ws });
        QVERIFY2(resumed.code == 0, qPrintable(resumed.out + resumed.err));
        std::map<int, double> losses = stepLosses(out);
        for (const auto& [step, loss] : stepLosses(resumed.out))
            losses[step] = loss;
        const Comparison c = compareRuns(losses, single.first, adapterOf(ws, id), single.second);
        QVERIFY2(c.why.isEmpty(), qPrintable(c.why));
        record("lora, 2 ranks, " + tag + " rank 1 then resumed", c);
        QVERIFY(c.loss <= kTolerance && c.parameters <= kTolerance);
    }

    void rendezvousErrors()
    {
        const QString ws = newWorkspace("rendezvous");
        json settings = caseConfig("lora", 1, false);
        settings["distributed"] = { { "timeout_s", 3 } };
        const QString config = writeConfig("rendezvous", settings);
        // Something else listens on the master port.
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        a.sin_port = 0;
        QVERIFY(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && ::listen(fd, 1) == 0);
        socklen_t n = sizeof(a);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
        const QString busy = QString::number(ntohs(a.sin_port));
        const CliResult inUse
            = runCli({ "train", config, "--workspace", ws, "--nproc-per-node", "2", "--master-port", busy });
        ::close(fd);
        QCOMPARE(inUse.code, 1);
        QVERIFY2(
            inUse.err.contains("master port " + busy) && inUse.err.contains("already in use"), qPrintable(inUse.err));
        // Host 1 of two, with no host 0 at the master address.
        const QString port = QString::number(freePort());
        const CliResult unreachable = runCli({ "train", config, "--workspace", ws, "--nproc-per-node", "1", "--nnodes",
            "2", "--node-rank", "1", "--master-port", port });
        QCOMPARE(unreachable.code, 1);
        QVERIFY2(unreachable.err.contains("cannot reach the master 127.0.0.1:" + port), qPrintable(unreachable.err));
    }

    // Two hosts with their own addresses: two network namespaces joined by a veth pair, one rank each.
    void twoHostsInNetworkNamespaces()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to create network namespaces (ip netns add); run the test as root");
        const QString a = QString("tbddp%1a").arg(::getpid());
        const QString b = QString("tbddp%1b").arg(::getpid());
        if (!commandWorks("ip", { "netns", "add", a }))
            QSKIP("cannot create a network namespace here (ip netns add failed: no iproute2, or no rights)");
        auto cleanup = qScopeGuard([&] {
            commandWorks("ip", { "netns", "del", a });
            commandWorks("ip", { "netns", "del", b });
        });
        const QString va = "v" + a.right(9), vb = "v" + b.right(9);
        QVERIFY(commandWorks("ip", { "netns", "add", b }));
        QVERIFY(commandWorks("ip", { "link", "add", va, "type", "veth", "peer", "name", vb }));
        QVERIFY(commandWorks("ip", { "link", "set", va, "netns", a }));
        QVERIFY(commandWorks("ip", { "link", "set", vb, "netns", b }));
        QVERIFY(commandWorks("ip", { "-n", a, "addr", "add", "10.231.7.1/24", "dev", va }));
        QVERIFY(commandWorks("ip", { "-n", b, "addr", "add", "10.231.7.2/24", "dev", vb }));
        for (const QString& ns : { a, b }) {
            QVERIFY(commandWorks("ip", { "-n", ns, "link", "set", ns == a ? va : vb, "up" }));
            QVERIFY(commandWorks("ip", { "-n", ns, "link", "set", "lo", "up" }));
        }
        const auto& single = singleProcess("lora", 2, false);
        const QString ws = newWorkspace("two-hosts");
        const QString config = writeConfig("two-hosts", caseConfig("lora", 1, false));
        QProcess hosts[2];
        for (int h = 0; h < 2; ++h) {
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.remove("TUNEBENCH_WORKSPACE");
            hosts[h].setProcessEnvironment(env);
            hosts[h].start("ip",
                { "netns", "exec", h == 0 ? a : b, TUNEBENCH_CLI, "train", config, "--workspace", ws, "--nnodes", "2",
                    "--node-rank", QString::number(h), "--nproc-per-node", "1", "--master-addr", "10.231.7.1",
                    "--master-port", "29517" });
        }
        for (QProcess& p : hosts)
            QVERIFY(p.waitForFinished(180000));
        const QString out = QString::fromUtf8(hosts[0].readAllStandardOutput());
        QVERIFY2(hosts[0].exitCode() == 0 && hosts[1].exitCode() == 0,
            qPrintable(out + hosts[0].readAllStandardError() + hosts[1].readAllStandardError()));
        const Comparison c = compareRuns(stepLosses(out), single.first, adapterOf(ws, runIdOf(out)), single.second);
        QVERIFY2(c.why.isEmpty(), qPrintable(c.why));
        record("lora, two hosts (network namespaces), 1 rank each", c);
        QVERIFY(c.loss <= kTolerance && c.parameters <= kTolerance);
    }

    void cleanupTestCase()
    {
        for (const auto& [what, worst] : m_worst)
            qInfo("worst relative difference, %s: losses %.3g, parameters %.3g", qPrintable(what), worst.first,
                worst.second);
    }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"
