// safetensors: round trips, the reference writer's exact layout, zero-copy
// mapping, and every validation error on hand-made corrupt files.

#include "core/model/safetensors.h"
#include "core/util/error.h"

#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace tunebench;

namespace {

// An 8-byte little-endian length, the header, then the data.
QByteArray fileBytes(const QByteArray& header, const QByteArray& data, std::uint64_t length)
{
    QByteArray out;
    for (int i = 0; i < 8; ++i)
        out.append(static_cast<char>((length >> (8 * i)) & 0xff));
    return out + header + data;
}

QByteArray fileBytes(const QByteArray& header, const QByteArray& data)
{
    return fileBytes(header, data, static_cast<std::uint64_t>(header.size()));
}

std::filesystem::path writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& bytes)
{
    const std::filesystem::path path = QFile::encodeName(dir.filePath(name)).toStdString();
    std::ofstream(path, std::ios::binary).write(bytes.constData(), bytes.size());
    return path;
}

QString errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const InputError& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::addColumn<QList<qint64>>("shape");
        QTest::newRow("f32 matrix") << int(at::kFloat) << QList<qint64> { 3, 5 };
        QTest::newRow("f16") << int(at::kHalf) << QList<qint64> { 7 };
        QTest::newRow("bf16 3d") << int(at::kBFloat16) << QList<qint64> { 2, 3, 4 };
        QTest::newRow("f64") << int(at::kDouble) << QList<qint64> { 4, 1 };
        QTest::newRow("i64") << int(at::kLong) << QList<qint64> { 6 };
        QTest::newRow("i32") << int(at::kInt) << QList<qint64> { 2, 2 };
        QTest::newRow("i16") << int(at::kShort) << QList<qint64> { 5 };
        QTest::newRow("i8") << int(at::kChar) << QList<qint64> { 9 };
        QTest::newRow("u8") << int(at::kByte) << QList<qint64> { 3, 3 };
        QTest::newRow("bool") << int(at::kBool) << QList<qint64> { 11 };
        QTest::newRow("scalar") << int(at::kFloat) << QList<qint64> {};
        QTest::newRow("zero size") << int(at::kFloat) << QList<qint64> { 0, 3 };
    }

    void roundTrip()
    {
        QFETCH(int, dtype);
        QFETCH(QList<qint64>, shape);
        const std::vector<std::int64_t> sizes(shape.begin(), shape.end());
        const auto type = static_cast<at::ScalarType>(dtype);
        at::Tensor t;
        if (type == at::kBool)
            t = at::randn(sizes) > 0;
        else if (at::isFloatingType(type))
            t = (at::randn(sizes, at::kDouble) * 50).to(type);
        else
            t = at::randint(type == at::kByte ? 0 : -100, 100, sizes, at::TensorOptions().dtype(type));
        // A non-contiguous partner checks that the writer takes strides into account.
        const at::Tensor strided = at::arange(24, at::kFloat).view({ 4, 6 }).t();
        QTemporaryDir dir;
        const auto path = std::filesystem::path(QFile::encodeName(dir.path()).toStdString()) / "t.safetensors";
        writeSafetensors(path, { { "x", t }, { "strided", strided } }, { { "format", "pt" }, { "note", "ünïcode" } });

        SafetensorsFile f = SafetensorsFile::open(path);
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        QCOMPARE(f.metadata().at("note"), std::string("ünïcode"));
        const at::Tensor back = f.tensor("x");
        QCOMPARE(back.scalar_type(), type);
        QVERIFY(back.sizes() == t.sizes());
        QVERIFY(at::equal(back, t));
        QVERIFY(at::equal(f.tensor("strided"), strided.contiguous()));
        QCOMPARE(f.header().tensors.size(), std::size_t(2));
    }

    // Byte-for-byte what the Python library writes (the examples in its own tests).
    void layoutMatchesReferenceWriter()
    {
        const at::Tensor t = at::arange(6, at::kFloat).view({ 1, 2, 3 });
        const std::string bytes = serializeSafetensors({ { "attn.0", t } });
        const std::string json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        QCOMPARE(json.size(), std::size_t(64));
        QCOMPARE(bytes.size(), std::size_t(8 + 64 + 24));
        QCOMPARE(static_cast<unsigned char>(bytes[0]), static_cast<unsigned char>(64));
        QCOMPARE(bytes.substr(8, 64), json);
        QCOMPARE(std::memcmp(bytes.data() + 72, t.data_ptr(), 24), 0);

        // Headers are padded with spaces to a multiple of 8 bytes.
        const std::string meta = serializeSafetensors({}, { { "framework", "pt" } });
        QCOMPARE(meta.substr(8), std::string("{\"__metadata__\":{\"framework\":\"pt\"}}     "));
        QCOMPARE(serializeSafetensors({}).substr(8), std::string("{}      "));

        // Data sorted by dtype alignment (largest first), then by name; all aligned.
        const std::string mixed
            = serializeSafetensors({ { "b", at::ones({ 3 }, at::kByte) }, { "a", at::ones({ 2 }, at::kFloat) },
                { "z", at::ones({ 1 }, at::kDouble) }, { "c", at::ones({ 1 }, at::kFloat) } });
        std::uint64_t n = 0;
        std::memcpy(&n, mixed.data(), 8);
        QCOMPARE(n % 8, std::uint64_t(0));
        const std::string header = mixed.substr(8, n);
        QVERIFY(header.find("\"z\"") < header.find("\"a\""));
        QVERIFY(header.find("\"a\"") < header.find("\"c\""));
        QVERIFY(header.find("\"c\"") < header.find("\"b\""));
        QVERIFY(header.find("\"z\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}") != std::string::npos);
    }

    void zeroCopyMapping()
    {
        QTemporaryDir dir;
        const auto path = std::filesystem::path(QFile::encodeName(dir.path()).toStdString()) / "m.safetensors";
        const at::Tensor original = at::arange(1000, at::kFloat);
        writeSafetensors(path, { { "w", original }, { "h", at::ones({ 5 }, at::kHalf) } });
        at::Tensor a;
        {
            SafetensorsFile f = SafetensorsFile::open(path);
            a = f.tensor("w");
            // Two reads share the mapped bytes: no copy was made.
            QCOMPARE(f.tensor("w").data_ptr(), a.data_ptr());
            QCOMPARE(reinterpret_cast<std::uintptr_t>(f.tensor("h").data_ptr()) % 2, std::uintptr_t(0));
        }
        // The tensor keeps the mapping alive after the file object is gone.
        QVERIFY(at::equal(a, original));
        // Copy-on-write: writing to the tensor never reaches the file.
        a.mul_(2);
        QCOMPARE(a[10].item<float>(), 20.0f);
        QVERIFY(at::equal(SafetensorsFile::open(path).tensor("w"), original));
    }

    void unalignedDataIsCopied()
    {
        // A hand-made file whose F32 tensor starts at an odd offset (a writer that
        // does not align): read correctly through a copy.
        const QByteArray header
            = R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
        const float values[2] = { 1.5f, -2.25f };
        QByteArray data(1, '\x07');
        data.append(reinterpret_cast<const char*>(values), 8);
        QByteArray padded = header;
        while ((padded.size() + 8) % 8)
            padded.append(' ');
        QTemporaryDir dir;
        const auto path = writeFile(dir, "u.safetensors", fileBytes(padded, data));
        const at::Tensor x = SafetensorsFile::open(path).tensor("x");
        QCOMPARE(x[0].item<float>(), 1.5f);
        QCOMPARE(x[1].item<float>(), -2.25f);
    }

    void corruptFilesAreRefused_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("message");
        const QByteArray good = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})";
        const QByteArray data24(24, '\0');
        QTest::newRow("shorter than the length field") << QByteArray("\x10\0\0", 3) << "shorter than the 8-byte";
        QTest::newRow("length over the limit") << fileBytes(good, data24, 200'000'000ull) << "exceeds the limit";
        QTest::newRow("length past the end") << fileBytes(good, data24, 5000) << "runs past the end";
        QTest::newRow("length with the top bit set")
            << fileBytes(good, data24, 0x8000000000000000ull) << "exceeds the limit";
        QTest::newRow("truncated data") << fileBytes(good, QByteArray(20, '\0')) << "run past the 20 bytes of data";
        QTest::newRow("trailing bytes") << fileBytes(good, QByteArray(30, '\0')) << "6 bytes no tensor claims";
        QTest::newRow("overlapping ranges") << fileBytes(
            R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
            QByteArray(16, '\0')) << "overlap tensor 'a'";
        QTest::newRow("same range twice") << fileBytes(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
            QByteArray(8, '\0')) << "overlap";
        QTest::newRow("gap between tensors") << fileBytes(
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            QByteArray(12, '\0')) << "leave a gap";
        QTest::newRow("wrong byte count") << fileBytes(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
            QByteArray(20, '\0')) << "span 20 bytes, but shape [2, 3] of F32 needs 24";
        QTest::newRow("end before begin") << fileBytes(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})",
            QByteArray(4, '\0')) << "end before they begin";
        QTest::newRow("unknown dtype") << fileBytes(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})",
            QByteArray(4, '\0')) << "unknown dtype 'F33'";
        QTest::newRow("dtype not a string") << fileBytes(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})",
            QByteArray(4, '\0')) << "'dtype' must be a string";
        QTest::newRow("json array") << fileBytes("[1, 2]", {}) << "does not start with '{'";
        QTest::newRow("not json") << fileBytes("{nope}", {}) << "not valid JSON";
        QTest::newRow("trailing garbage") << fileBytes("{} []", {}) << "not valid JSON";
        QTest::newRow("invalid utf-8") << fileBytes("{\"\xff\xfe\":1}", {}) << "not valid JSON";
        QTest::newRow("tensor entry not an object") << fileBytes(R"({"a":5})", {}) << "must be an object";
        QTest::newRow("missing data_offsets")
            << fileBytes(R"({"a":{"dtype":"F32","shape":[1]}})", QByteArray(4, '\0')) << "has no 'data_offsets'";
        QTest::newRow("data_offsets arity") << fileBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})",
            QByteArray(4, '\0')) << "'data_offsets' must be an array [begin, end]";
        QTest::newRow("negative dimension") << fileBytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
            QByteArray(4, '\0')) << "non-negative integer";
        QTest::newRow("fractional dimension")
            << fileBytes(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", QByteArray(4, '\0'))
            << "non-negative integer";
        QTest::newRow("negative offset") << fileBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})",
            QByteArray(4, '\0')) << "data_offsets begin must be a non-negative integer";
        QTest::newRow("element count overflow")
            << fileBytes(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", {})
            << "overflows 64 bits";
        QTest::newRow("byte count overflow")
            << fileBytes(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", {})
            << "needs more bytes than 64 bits can count";
        QTest::newRow("dimension beyond int64")
            << fileBytes(R"({"a":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]}})", {})
            << "too large";
        QTest::newRow("metadata not strings")
            << fileBytes(R"({"__metadata__":{"format":1}})", {}) << "'__metadata__' entry 'format' must be a string";
        QTest::newRow("metadata not an object")
            << fileBytes(R"({"__metadata__":[1]})", {}) << "'__metadata__' must be an object";
        QTest::newRow("duplicate tensor") << fileBytes(
            R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
            QByteArray(2, '\0')) << "has the key 'a' twice";
        QTest::newRow("deep nesting") << fileBytes(R"({"a":{"dtype":"U8","shape":[[[1]]],"data_offsets":[0,1]}})",
            QByteArray(1, '\0')) << "nests deeper than 3 levels";
        QTest::newRow("too many dimensions") << fileBytes(QByteArray(R"({"a":{"dtype":"U8","shape":[)")
                + QByteArray("1,").repeated(70) + R"(1],"data_offsets":[0,1]}})",
            QByteArray(1, '\0')) << "dimensions, more than 64";
    }

    void corruptFilesAreRefused()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const auto path = writeFile(dir, "corrupt.safetensors", bytes);
        const QString error = errorOf([&] { SafetensorsFile::open(path); });
        QVERIFY2(error.contains(message), qPrintable("got: " + error));
        // Every message names the file.
        QVERIFY2(error.contains(QString::fromStdString(path.string())), qPrintable(error));
    }

    void emptyFileIsRefused()
    {
        QTemporaryDir dir;
        const auto path = writeFile(dir, "empty.safetensors", {});
        QVERIFY(errorOf([&] { SafetensorsFile::open(path); }).contains("the file is empty"));
        QVERIFY(
            errorOf([&] { SafetensorsFile::open(path.parent_path() / "absent.safetensors"); }).contains("cannot open"));
    }

    void tensorLevelErrors()
    {
        QTemporaryDir dir;
        // A BOOL byte other than 0/1 would be undefined behaviour once read as bool.
        const auto boolPath = writeFile(dir, "bool.safetensors",
            fileBytes(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", QByteArray("\x01\x02\x00", 3)));
        QVERIFY(
            errorOf([&] { SafetensorsFile::open(boolPath).tensor("b"); }).contains("holds the byte 2 at element 1"));
        // Types LibTorch 1.13 lacks are known to the header but refused as tensors.
        const auto u16Path = writeFile(dir, "u16.safetensors",
            fileBytes(R"({"u":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})", QByteArray(4, '\0')));
        SafetensorsFile u16 = SafetensorsFile::open(u16Path);
        QVERIFY(errorOf([&] { u16.tensor("u"); }).contains("dtype U16, which this LibTorch has no type for"));
        QVERIFY(errorOf([&] { u16.tensor("nope"); }).contains("no tensor named 'nope'"));
    }

    void writerErrors()
    {
        const at::Tensor t = at::ones({ 2 });
        QVERIFY(errorOf([&] { serializeSafetensors({ { "a", t }, { "a", t } }); }).contains("given twice"));
        QVERIFY(errorOf([&] { serializeSafetensors({ { "__metadata__", t } }); }).contains("reserved"));
        QVERIFY(errorOf([&] {
            serializeSafetensors({ { "c", at::ones({ 2 }, at::kComplexFloat) } });
        }).contains("cannot store"));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
