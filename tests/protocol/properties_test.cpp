#include "protocol/test_util.hpp"

#include <warren/protocol/properties.hpp>

#include <doctest/doctest.h>
#include <string>

using namespace warren::protocol;
using warren::protocol::test::from_hex;
using warren::protocol::test::to_hex;

namespace {

basic_properties all_properties() {
    basic_properties p;
    p.content_type = "application/json";
    p.content_encoding = "gzip";
    p.headers = field_table{};
    p.headers->add("x-retry", std::int32_t{3});
    p.headers->add("x-death", field_array{{field_table{}}});
    p.delivery_mode = 2;
    p.priority = 9;
    p.correlation_id = "corr";
    p.reply_to = "amq.rabbitmq.reply-to";
    p.expiration = "60000";
    p.message_id = "mid";
    p.timestamp = 1700000000;
    p.type = "t";
    p.user_id = "guest";
    p.app_id = "warren";
    p.cluster_id = "c";
    return p;
}

std::string encoded(const content_header& h) {
    std::string out;
    encode_content_header(h, out);
    return out;
}

}  // namespace

TEST_CASE("all 14 properties round-trip") {
    const content_header h{
        .class_id = 60, .body_size = 1234567890123, .properties = all_properties()};
    const std::string bytes = encoded(h);
    CHECK(to_hex(bytes.substr(12, 2)) == "fffc");  // flags 15..2 all set
    auto back = decode_content_header(bytes);
    REQUIRE(back.has_value());
    CHECK(back->class_id == 60);
    CHECK(back->body_size == 1234567890123);
    CHECK(back->properties == h.properties);
    CHECK(back->properties.persistent());
    CHECK(encoded(*back) == bytes);
}

TEST_CASE("each property alone sets its own flag bit") {
    const basic_properties all = all_properties();
    // Walk the 14 properties by clearing all but one, in flag order 15..2.
    for (int keep = 0; keep < 14; ++keep) {
        basic_properties p = all;
        int i = 0;
        auto filter = [&](auto& field) {
            if (i++ != keep) field.reset();
        };
        filter(p.content_type), filter(p.content_encoding), filter(p.headers);
        filter(p.delivery_mode), filter(p.priority), filter(p.correlation_id), filter(p.reply_to);
        filter(p.expiration), filter(p.message_id), filter(p.timestamp), filter(p.type);
        filter(p.user_id), filter(p.app_id), filter(p.cluster_id);
        std::string out;
        encode_properties(p, out);
        const auto flags = static_cast<unsigned>(static_cast<unsigned char>(out[0]) << 8 |
                                                 static_cast<unsigned char>(out[1]));
        CHECK(flags == (1u << (15 - keep)));
        std::string_view in = out;
        auto back = decode_properties(in);
        REQUIRE(back.has_value());
        CHECK(in.empty());
        CHECK(*back == p);
    }
}

TEST_CASE("no properties") {
    content_header h{.body_size = 0, .properties = {}};
    CHECK(to_hex(encoded(h)) == "003c000000000000000000000000");
    auto back = decode_content_header(encoded(h));
    REQUIRE(back.has_value());
    CHECK(back->properties == basic_properties{});
    CHECK_FALSE(back->properties.persistent());
}

TEST_CASE("reserved and continuation flag bits are rejected") {
    auto r =
        decode_content_header(from_hex("003c00000000000000000000"
                                       "0001"));
    REQUIRE(r.has_error());
    CHECK(r.error() == error::bad_property_flags);
    r =
        decode_content_header(from_hex("003c00000000000000000000"
                                       "0002"));
    CHECK(r.error() == error::bad_property_flags);
    std::string bytes = from_hex("8001");
    std::string_view in = bytes;
    CHECK(decode_properties(in).error() == error::bad_property_flags);
}

TEST_CASE("bad content headers") {
    const std::string bytes = encoded({.body_size = 5, .properties = all_properties()});
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode_content_header(std::string_view(bytes).substr(0, n));
        REQUIRE_MESSAGE(r.has_error(), "cut at ", n);
        CHECK(r.error() == error::truncated);
    }
    auto r = decode_content_header(bytes + "x");
    CHECK(r.error() == error::trailing_bytes);
    // content-type claims 255 bytes, 3 present.
    r =
        decode_content_header(from_hex("003c00000000000000000005"
                                       "8000"
                                       "ff616263"));
    CHECK(r.error() == error::truncated);
    // headers table claims 4 GiB.
    r =
        decode_content_header(from_hex("003c00000000000000000005"
                                       "2000"
                                       "ffffffff00"));
    CHECK(r.error() == error::truncated);
    // a bad type tag inside the headers table.
    r =
        decode_content_header(from_hex("003c00000000000000000005"
                                       "2000"
                                       "00000003016b3f"));
    CHECK(r.error() == error::bad_field_type);
}

TEST_CASE("decode_properties advances the view") {
    std::string out;
    basic_properties p;
    p.delivery_mode = 1;
    encode_properties(p, out);
    CHECK(to_hex(out) == "100001");
    out += "rest";
    std::string_view in = out;
    auto back = decode_properties(in);
    REQUIRE(back.has_value());
    CHECK(back->delivery_mode == 1);
    CHECK(in == "rest");
}
