#pragma once
// Thin POSIX wrappers. Every failure throws std::system_error naming the file.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace warren::store::detail {

/// The whole file (std::nullopt-like: throws if it cannot be read).
std::string read_file(const std::filesystem::path& p);
/// Creates (truncating) a file for appending; returns its descriptor.
int create_file(const std::filesystem::path& p);
void write_all(int fd, std::string_view bytes, const std::filesystem::path& p);
void sync_data(int fd, const std::filesystem::path& p);
void close_file(int fd) noexcept;
/// fsync of a directory, so that created/renamed entries survive a crash.
void sync_dir(const std::filesystem::path& dir);
/// temp file, write, fsync, rename over `p`, fsync the directory.
void write_atomically(const std::filesystem::path& p, std::string_view bytes);
/// Cuts the file at `size` and syncs it.
void truncate_file(const std::filesystem::path& p, std::uint64_t size);

}  // namespace warren::store::detail
