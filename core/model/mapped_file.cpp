#include "core/model/mapped_file.h"

#include "core/util/error.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tunebench {

MappedFile::MappedFile(std::filesystem::path path, std::uint8_t* data, std::uint64_t size)
    : m_path(std::move(path))
    , m_data(data)
    , m_size(size)
{ }

MappedFile::~MappedFile()
{
    if (m_data)
        ::munmap(m_data, m_size);
}

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw InputError(path.string() + ": cannot open: " + std::strerror(errno));
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw InputError(path.string() + ": cannot read its size: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw InputError(path.string() + ": not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size == 0) {
        ::close(fd);
        throw InputError(path.string() + ": the file is empty");
    }
    // PROT_WRITE with MAP_PRIVATE: copy-on-write, so tensors that share these
    // pages may be updated in place (optimiser steps) without touching the file.
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd); // the mapping keeps its own reference to the file
    if (data == MAP_FAILED)
        throw InputError(path.string() + ": cannot map into memory: " + std::strerror(err));
    return std::shared_ptr<MappedFile>(new MappedFile(path, static_cast<std::uint8_t*>(data), size));
}

} // namespace tunebench
