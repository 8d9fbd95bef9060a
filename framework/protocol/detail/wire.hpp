#pragma once
// Big-endian primitives shared by the codec: appenders that write into the caller's buffer and a
// bounds-checked reader with a sticky error. Private to warren_protocol (also used by the
// generated methods.cpp).

#include <warren/protocol/error.hpp>
#include <warren/protocol/field_table.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace warren::protocol::detail {

/// Longest shortstr the wire can carry; longer input is truncated on encode (a precondition
/// violation: callers check it first, see check_lengths).
inline constexpr std::size_t max_shortstr = 255;

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

inline void put_u16(std::string& out, std::uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 2);
}

inline void put_u32(std::string& out, std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
}

inline void put_u64(std::string& out, std::uint64_t v) {
    put_u32(out, static_cast<std::uint32_t>(v >> 32));
    put_u32(out, static_cast<std::uint32_t>(v));
}

inline void put_shortstr(std::string& out, std::string_view s) {
    // Append first and cut afterwards: bounding s.size() before the append lets g++ inline the
    // copy as `rep movsq`, several times slower than a memcpy call for names of 10-50 bytes.
    put_u8(out, static_cast<std::uint8_t>(s.size() < max_shortstr ? s.size() : max_shortstr));
    out.append(s);
    if (s.size() > max_shortstr) [[unlikely]] {
        out.resize(out.size() - (s.size() - max_shortstr));
    }
}

inline void put_longstr(std::string& out, std::string_view s) {
    put_u32(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
}

/// Overwrites 4 bytes at `at` (a placeholder written earlier) with `v`.
inline void patch_u32(std::string& out, std::size_t at, std::uint32_t v) noexcept {
    out[at] = static_cast<char>(v >> 24);
    out[at + 1] = static_cast<char>(v >> 16);
    out[at + 2] = static_cast<char>(v >> 8);
    out[at + 3] = static_cast<char>(v);
}

inline std::uint16_t load_u16(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint16_t>((u[0] << 8) | u[1]);
}

inline std::uint32_t load_u32(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
           std::uint32_t{u[3]};
}

inline std::uint64_t load_u64(const char* p) noexcept {
    return (std::uint64_t{load_u32(p)} << 32) | load_u32(p + 4);
}

/// Reads big-endian values from a byte range. Every read checks the remaining length first; the
/// first failure is kept and moves the cursor to the end, so later reads fail cheaply and a
/// decoder can run straight through and test ok() once.
class reader {
  public:
    explicit reader(std::string_view in) noexcept : p_(in.data()), end_(in.data() + in.size()) {}

    std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
    bool ok() const noexcept { return err_ == error{}; }
    error err() const noexcept { return err_; }
    /// Records `e` unless an error is already recorded, and stops reading.
    void fail(error e) noexcept {
        if (ok()) err_ = e;
        p_ = end_;
    }

    void u8(std::uint8_t& v) noexcept {
        if (remaining() < 1) return fail(error::truncated);
        v = static_cast<std::uint8_t>(*p_++);
    }
    void u16(std::uint16_t& v) noexcept {
        if (remaining() < 2) return fail(error::truncated);
        v = load_u16(p_);
        p_ += 2;
    }
    void u32(std::uint32_t& v) noexcept {
        if (remaining() < 4) return fail(error::truncated);
        v = load_u32(p_);
        p_ += 4;
    }
    void u64(std::uint64_t& v) noexcept {
        if (remaining() < 8) return fail(error::truncated);
        v = load_u64(p_);
        p_ += 8;
    }
    /// The next `n` bytes, or an empty view and error::truncated when fewer remain.
    std::string_view take(std::size_t n) noexcept {
        if (remaining() < n) {
            fail(error::truncated);
            return {};
        }
        std::string_view v(p_, n);
        p_ += n;
        return v;
    }
    void shortstr(std::string& s) {
        std::uint8_t n = 0;
        u8(n);
        s.assign(take(n));
    }
    void longstr(std::string& s) {
        std::uint32_t n = 0;
        u32(n);
        s.assign(take(n));
    }
    void table(field_table& t);

  private:
    const char* p_;
    const char* end_;
    error err_{};
};

/// Decodes a table (size + entries) at nesting level `depth` (the outermost table is level 1).
void read_table(reader& r, field_table& t, int depth);

inline void reader::table(field_table& t) { read_table(*this, t, 1); }

}  // namespace warren::protocol::detail
