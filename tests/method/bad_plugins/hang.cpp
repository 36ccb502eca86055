// A plugin library whose loading never finishes (a static initialiser sleeps).
#include <unistd.h>

namespace {
[[maybe_unused]] const int kHang = [] {
    sleep(600);
    return 0;
}();
} // namespace
