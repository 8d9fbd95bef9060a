#pragma once
// Little-endian integers and length-prefixed strings for the on-disk format.

#include <cstdint>
#include <string>
#include <string_view>

namespace warren::store::detail {

template <class T>
void put_le(std::string& out, T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        out.push_back(static_cast<char>(static_cast<unsigned char>(v >> (8 * i))));
    }
}

template <class T>
void patch_le(std::string& out, std::size_t at, T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        out[at + i] = static_cast<char>(static_cast<unsigned char>(v >> (8 * i)));
    }
}

template <class T>
T get_le(const char* p) noexcept {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        v = static_cast<T>(
            v | static_cast<T>(static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i)));
    }
    return v;
}

/// A 16-bit length, then the bytes (names are shortstr, at most 255 bytes, in practice).
inline void put_str(std::string& out, std::string_view s) {
    put_le(out, static_cast<std::uint16_t>(s.size()));
    out.append(s.data(), s.size());
}

/// Bounds-checked reading: every getter returns false (and leaves the reader failed) on a short
/// input, so a decoder can check once at the end.
class reader {
  public:
    explicit reader(std::string_view in) noexcept : in_(in) {}

    template <class T>
    bool get(T& v) noexcept {
        if (!ok_ || in_.size() < sizeof(T)) return ok_ = false;
        v = get_le<T>(in_.data());
        in_.remove_prefix(sizeof(T));
        return true;
    }
    bool bytes(std::size_t n, std::string_view& v) noexcept {
        if (!ok_ || in_.size() < n) return ok_ = false;
        v = in_.substr(0, n);
        in_.remove_prefix(n);
        return true;
    }
    bool str(std::string_view& v) noexcept {
        std::uint16_t n = 0;
        return get(n) && bytes(n, v);
    }
    bool str(std::string& v) {
        std::string_view s;
        if (!str(s)) return false;
        v.assign(s);
        return true;
    }
    std::string_view rest() noexcept {
        auto r = in_;
        in_ = {};
        return r;
    }
    bool ok() const noexcept { return ok_; }
    bool done() const noexcept { return ok_ && in_.empty(); }

  private:
    std::string_view in_;
    bool ok_ = true;
};

}  // namespace warren::store::detail
