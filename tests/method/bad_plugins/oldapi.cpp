// A plugin built for an older plugin API: refused on its version, before anything else is read.
#include "core/method/plugin_api.h"

namespace {
struct OldDescriptor {
    int apiVersion;
    const char* name;
};
const OldDescriptor kOld { 2, "oldapi" };
} // namespace

extern "C" __attribute__((visibility("default"))) const TunebenchPluginDescriptor* tunebench_plugin_descriptor()
{
    return reinterpret_cast<const TunebenchPluginDescriptor*>(&kOld);
}
