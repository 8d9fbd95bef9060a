#include <warren/store/crc32c.hpp>

#include <boost/crc.hpp>

#include <cstring>

namespace warren::store {

namespace {

using table_crc = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

std::uint32_t crc32c_table(std::string_view data, std::uint32_t crc) noexcept {
    // crc_optimal keeps the pre-final-xor remainder: resume from ~crc.
    table_crc c(~crc);
    c.process_bytes(data.data(), data.size());
    return c.checksum();
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view data,
                                                             std::uint32_t crc) noexcept {
    std::uint64_t c = ~crc;
    const char* p = data.data();
    std::size_t n = data.size();
    while (n >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<std::uint32_t>(c);
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
        ++p;
        --n;
    }
    return ~c32;
}

bool have_sse42() noexcept {
    static const bool yes = __builtin_cpu_supports("sse4.2") != 0;
    return yes;
}
#endif

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) noexcept {
#if defined(__x86_64__)
    if (have_sse42()) return crc32c_sse42(data, crc);
#endif
    return crc32c_table(data, crc);
}

}  // namespace warren::store
