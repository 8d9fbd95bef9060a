#include <warren/store/crc32c.hpp>

#include <boost/crc.hpp>

#include <doctest/doctest.h>
#include <random>
#include <string>

using warren::store::crc32c;

TEST_CASE("crc32c matches the standard check values") {
    CHECK(crc32c("") == 0u);
    CHECK(crc32c("123456789") == 0xE3069283u);
    CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);  // RFC 3720 B.4
    CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
}

TEST_CASE("crc32c agrees with Boost.CRC and continues across splits") {
    std::mt19937 rng(7);
    for (std::size_t len = 0; len < 200; ++len) {
        std::string s(len, '\0');
        for (auto& c : s) c = static_cast<char>(rng());
        boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> ref;
        ref.process_bytes(s.data(), s.size());
        const auto whole = crc32c(s);
        CHECK(whole == ref.checksum());
        const std::size_t cut = len / 3;
        CHECK(crc32c(std::string_view(s).substr(cut), crc32c(std::string_view(s).substr(0, cut))) ==
              whole);
    }
}
