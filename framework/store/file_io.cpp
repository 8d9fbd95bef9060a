#include "detail/file_io.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace warren::store::detail {

namespace {

[[noreturn]] void fail(const char* what, const std::filesystem::path& p) {
    throw std::system_error(errno, std::generic_category(), std::string(what) + " " + p.string());
}

int open_or_fail(const std::filesystem::path& p, int flags, const char* what) {
    int fd = -1;
    do {
        fd = ::open(p.c_str(), flags | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail(what, p);
    return fd;
}

}  // namespace

std::string read_file(const std::filesystem::path& p) {
    const int fd = open_or_fail(p, O_RDONLY, "cannot open");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        close_file(fd);
        fail("cannot stat", p);
    }
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
        const auto n = ::read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close_file(fd);
            fail("cannot read", p);
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    close_file(fd);
    data.resize(got);
    return data;
}

int create_file(const std::filesystem::path& p) {
    return open_or_fail(p, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, "cannot create");
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& p) {
    while (!bytes.empty()) {
        const auto n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot write", p);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void sync_data(int fd, const std::filesystem::path& p) {
    if (::fdatasync(fd) != 0) fail("fdatasync failed on", p);
}

void close_file(int fd) noexcept {
    if (fd >= 0) ::close(fd);
}

void sync_dir(const std::filesystem::path& dir) {
    const int fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY, "cannot open directory");
    const int rc = ::fsync(fd);
    close_file(fd);
    if (rc != 0) fail("fsync failed on directory", dir);
}

void write_atomically(const std::filesystem::path& p, std::string_view bytes) {
    auto tmp = p;
    tmp += ".tmp";
    const int fd = open_or_fail(tmp, O_WRONLY | O_CREAT | O_TRUNC, "cannot create");
    try {
        write_all(fd, bytes, tmp);
        if (::fsync(fd) != 0) fail("fsync failed on", tmp);
    } catch (...) {
        close_file(fd);
        throw;
    }
    close_file(fd);
    if (::rename(tmp.c_str(), p.c_str()) != 0) fail("cannot rename to", p);
    sync_dir(p.parent_path());
}

void truncate_file(const std::filesystem::path& p, std::uint64_t size) {
    const int fd = open_or_fail(p, O_WRONLY, "cannot open");
    const bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0 && ::fsync(fd) == 0;
    close_file(fd);
    if (!ok) fail("cannot truncate", p);
}

}  // namespace warren::store::detail
