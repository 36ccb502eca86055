#include "sweep_file_target.h"

#include "core/sweep/sweep_spec.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace tunebench::fuzz {

namespace {

constexpr const char* kSource = "fuzz-sweep.yaml";

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "sweep file fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

void checkNamed(const InputError& e)
{
    const std::string message = e.what();
    if (std::getenv("TUNEBENCH_FUZZ_VERBOSE"))
        std::fprintf(stderr, "rejected: %s\n", message.c_str());
    if (message.find(kSource) == std::string::npos)
        fail("error names no file", message);
}

void checkDraws(const SweepSpec& spec, const std::vector<SweepPoint>& points)
{
    std::size_t expected = spec.trials > 0 ? static_cast<std::size_t>(spec.trials) : 1;
    for (const auto& [key, values] : spec.grid)
        expected *= values.size();
    if (points.size() != expected)
        fail("point count", std::to_string(points.size()) + " points, expected " + std::to_string(expected));
    for (std::size_t i = 0; i < points.size(); ++i) {
        if (points[i].index != i)
            fail("point index", std::to_string(points[i].index) + " at " + std::to_string(i));
        for (const auto& [key, d] : spec.random) {
            const nlohmann::json& v = points[i].params.at(key);
            if (d.kind == SweepDistribution::Kind::Choice) {
                if (std::find(d.values.begin(), d.values.end(), v) == d.values.end())
                    fail("choice outside its values", key + " = " + v.dump());
                continue;
            }
            if (!v.is_number() || v.get<double>() < d.low || v.get<double>() > d.high
                || (d.integer && !v.is_number_integer()))
                fail("draw outside its bounds", key + " = " + v.dump());
        }
    }
}

} // namespace

SweepVerdict checkSweepFile(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const nlohmann::json doc = yamlToJson(text, kSource);
        if (doc.is_object() && doc.contains("base") && doc["base"].is_string())
            return SweepVerdict::Rejected;
        const SweepSpec spec = SweepSpec::fromJson(doc, kSource);
        const auto points = expandPoints(spec);
        checkDraws(spec, points);
        if (expandPoints(spec).size() != points.size())
            fail("expansion", "not the same twice");
        for (std::size_t i = 0; i < points.size(); ++i) {
            if (expandPoints(spec)[i].params != points[i].params)
                fail("expansion", "point " + std::to_string(i) + " differs the second time");
            break; // one comparison is enough per input; the whole list costs the same again
        }
        if (points.size() * std::max<std::size_t>(1, spec.seeds.size()) <= 200) {
            const auto runs = expandRuns(spec, plugins);
            if (runs.size() != points.size() * std::max<std::size_t>(1, spec.seeds.size()))
                fail("run count", std::to_string(runs.size()));
        }
        return SweepVerdict::Accepted;
    } catch (const InputError& e) {
        checkNamed(e);
        return SweepVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception", e.what());
    } catch (...) {
        fail("unexpected exception", "not a std::exception");
    }
}

} // namespace tunebench::fuzz
