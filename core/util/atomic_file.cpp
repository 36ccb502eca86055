#include "core/util/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tunebench {

std::string writeFailureText(int error)
{
    std::string text = std::strerror(error);
    if (error == ENOSPC || error == EFBIG || error == EDQUOT)
        text += " (free some space, or raise the limit, and try again)";
    return text;
}

void syncToDisk(const fs::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error("cannot open " + path.string() + " to flush it to disk: " + std::strerror(errno));
    // Folders on some file systems refuse fsync (EINVAL); their entries are then as safe as they get.
    if (::fsync(fd) != 0 && errno != EINVAL) {
        const int error = errno;
        ::close(fd);
        throw Error("cannot flush " + path.string() + " to disk: " + writeFailureText(error));
    }
    ::close(fd);
}

AtomicFile::AtomicFile(fs::path target)
    : m_target(std::move(target))
{
    std::random_device rd;
    m_temporary = m_target;
    m_temporary += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
    m_fd = ::open(m_temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (m_fd < 0)
        throw Error("cannot write " + m_target.string() + ": cannot create " + m_temporary.filename().string()
            + " beside it: " + writeFailureText(errno));
}

AtomicFile::~AtomicFile()
{
    if (m_fd >= 0)
        ::close(m_fd);
    if (!m_committed) {
        std::error_code ec;
        fs::remove(m_temporary, ec);
    }
}

void AtomicFile::fail(const std::string& what, int error)
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
    std::error_code ec;
    fs::remove(m_temporary, ec);
    throw Error("cannot write " + m_target.string() + ": " + what + writeFailureText(error)
        + (fs::exists(m_target, ec) ? "; the existing file is unchanged" : ""));
}

void AtomicFile::write(const void* data, std::size_t size)
{
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(m_fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("", errno);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

void AtomicFile::commit()
{
    if (::fsync(m_fd) != 0)
        fail("flushing to disk: ", errno);
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0)
        fail("closing: ", errno);
    if (::rename(m_temporary.c_str(), m_target.c_str()) != 0)
        fail("moving it into place: ", errno);
    m_committed = true;
    syncToDisk(m_target.parent_path().empty() ? fs::path(".") : m_target.parent_path());
}

void writeFileAtomically(const fs::path& target, std::string_view bytes)
{
    AtomicFile file(target);
    file.write(bytes);
    file.commit();
}

} // namespace tunebench
