#pragma once
// CRC-32C (Castagnoli), the checksum of every store record.

#include <cstdint>
#include <string_view>

namespace warren::store {

/// CRC-32C of `data`, continuing from `crc` (the value returned for the preceding bytes; 0 to
/// start). Uses the SSE4.2 crc32 instruction when the CPU has it, else a table (both give the
/// same result). Never throws; thread-safe.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

}  // namespace warren::store
