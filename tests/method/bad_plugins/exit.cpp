// A plugin library that ends the process while it is loaded.
#include <unistd.h>

namespace {
[[maybe_unused]] const int kExit = [] {
    _exit(3);
    return 0;
}();
} // namespace
