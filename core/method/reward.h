#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace tunebench {

// A reward function for online objectives (GRPO): scores one sampled completion. Implemented by reward plugins;
// a run lists several with weights (`rewards:` in the run configuration).
class Reward {
public:
    virtual ~Reward() = default;
    // Called once with the plugin's resolved parameters, before any score(). Refuses what cannot work (an invalid
    // pattern ...) with an InputError naming the parameter, so a run fails when its configuration is read.
    virtual void configure(const nlohmann::json& params) = 0;
    // The completion's reward. `fields` is the prompt's record (its `answer` and any other field the dataset has).
    // Called on the training thread only.
    virtual double score(const std::string& prompt, const std::string& completion, const nlohmann::json& fields) = 0;
};

} // namespace tunebench
