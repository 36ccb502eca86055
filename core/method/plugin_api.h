#pragma once

// The entry point of a Tunebench method plugin. A plugin is a shared library
// that exports one C function,
//
//   extern "C" const TunebenchPluginDescriptor* tunebench_plugin_descriptor();
//
// returning a descriptor that lives as long as the library. The loader reads
// apiVersion before anything else and refuses a plugin built for another
// version. Use TUNEBENCH_PLUGIN(descriptor) to export it. See
// core/method/ADDING_A_METHOD.md (beside this header) for a walkthrough.

#include "core/method/adapter.h"
#include "core/method/objective.h"
#include "core/method/reward.h"

// Bumped whenever Adapter, Objective, Reward, this descriptor or anything they expose
// changes incompatibly.
#define TUNEBENCH_PLUGIN_API_VERSION 6

extern "C" {

struct TunebenchPluginDescriptor {
    int apiVersion; // TUNEBENCH_PLUGIN_API_VERSION at build time
    const char* name; // unique per kind, e.g. "lora"
    const char* version; // the plugin's own version, e.g. "1.0.0"
    const char* kind; // "adapter", "objective" or "reward"
    const char* summary; // one line for lists and tooltips
    const char* schemaJson; // ParameterSchema as JSON (see parameter_schema.h)
    // The factory for the plugin's kind; the others are null (createReward, the
    // last member, may be left out by adapters and objectives). Ownership passes
    // to the caller, which deletes through the virtual destructor.
    tunebench::Adapter* (*createAdapter)();
    tunebench::Objective* (*createObjective)();
    // Adapters with a Hugging Face PEFT form: its peft_type ("LORA", "IA3" ...),
    // implemented by Adapter::toPeft and Adapter::fromPeft; null otherwise (and
    // for objectives). Several plugins may share one type (the LoRA family).
    const char* peftType;
    tunebench::Reward* (*createReward)();
};

typedef const TunebenchPluginDescriptor* (*TunebenchPluginEntryPoint)();
}

#define TUNEBENCH_PLUGIN_ENTRY_POINT "tunebench_plugin_descriptor"

#define TUNEBENCH_PLUGIN(descriptor)                                                                                   \
    extern "C" __attribute__((visibility("default"))) const TunebenchPluginDescriptor* tunebench_plugin_descriptor()   \
    {                                                                                                                  \
        return &(descriptor);                                                                                          \
    }
