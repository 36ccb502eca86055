#pragma once

#include <stdexcept>
#include <string>

namespace tunebench {

// Base of every error core reports to its callers. The message is meant for a
// person: it names the file, line or field at fault and what was expected.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Input that does not have the expected form (a config key, a file, an argument).
class InputError : public Error {
public:
    using Error::Error;
};

} // namespace tunebench
