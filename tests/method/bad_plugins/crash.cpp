// A plugin library that crashes while it is loaded (a static initialiser dereferences null).
#include <csignal>

namespace {
[[maybe_unused]] const int kCrash = [] {
    std::raise(SIGSEGV);
    return 0;
}();
} // namespace
