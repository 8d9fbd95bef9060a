#include "protocol/test_util.hpp"

#include <warren/protocol/codec.hpp>

#include <doctest/doctest.h>
#include <set>
#include <string>

using namespace warren::protocol;
using warren::protocol::test::all_samples;
using warren::protocol::test::from_hex;
using warren::protocol::test::payload_of;
using warren::protocol::test::to_hex;

namespace {

// encode → decode → encode must give equal structs and identical bytes.
void check_round_trip(const method& m) {
    const std::string bytes = payload_of(m);
    auto decoded = decode_method(bytes);
    REQUIRE_MESSAGE(decoded.has_value(), name_of(m), ": ", decoded.error().message());
    CHECK_MESSAGE(*decoded == m, name_of(m));
    CHECK_MESSAGE(payload_of(*decoded) == bytes, name_of(m));
}

}  // namespace

TEST_CASE("every method round-trips with non-default values") {
    for (unsigned seed : {0u, 1u, 2u, 7u}) {
        const auto samples = all_samples(seed);
        REQUIRE(samples.size() == method_count);
        for (const auto& m : samples) {
            CAPTURE(seed);
            check_round_trip(m);
            // Every field was changed, so no sample equals a default-constructed method.
            method defaults = m;
            std::visit([](auto& x) { x = std::decay_t<decltype(x)>{}; }, defaults);
            const bool has_args = payload_of(defaults).size() > 4;
            if (has_args) CHECK_MESSAGE(defaults != m, name_of(m));
        }
    }
}

TEST_CASE("every default-constructed method round-trips") {
    for (std::size_t i = 0; i < method_count; ++i) {
        auto samples = all_samples(0);
        std::visit([](auto& x) { x = std::decay_t<decltype(x)>{}; }, samples[i]);
        check_round_trip(samples[i]);
    }
}

TEST_CASE("class, method ids and names are unique and match the structs") {
    std::set<std::pair<std::uint16_t, std::uint16_t>> ids;
    std::set<std::string_view> names;
    for (const auto& m : all_samples(0)) {
        std::visit(
            [&](const auto& x) {
                using M = std::decay_t<decltype(x)>;
                CHECK(class_id_of(m) == M::class_id_v);
                CHECK(method_id_of(m) == M::method_id_v);
                CHECK(name_of(m) == M::name_v);
            },
            m);
        const std::string bytes = payload_of(m);
        auto peeked = peek_method_id(bytes);
        REQUIRE(peeked.has_value());
        CHECK(peeked->first == class_id_of(m));
        CHECK(peeked->second == method_id_of(m));
        ids.emplace(class_id_of(m), method_id_of(m));
        names.insert(name_of(m));
    }
    CHECK(ids.size() == method_count);
    CHECK(names.size() == method_count);
    CHECK(method_count == 66);
}

TEST_CASE("the template and variant encoders produce the same bytes") {
    for (const auto& m : all_samples(3)) {
        std::visit(
            [&](const auto& x) {
                std::string a, b, fa, fb;
                encode_method(x, a);
                encode_method(m, b);
                CHECK(a == b);
                append_method_frame(fa, 7, x);
                append_method_frame(fb, 7, m);
                CHECK(fa == fb);
                REQUIRE(fa.size() == a.size() + frame_overhead);
                CHECK(fa.substr(7, a.size()) == a);
            },
            m);
    }
}

TEST_CASE("known encodings") {
    std::string out;
    encode_method(basic_ack{.delivery_tag = 1, .multiple = false}, out);
    CHECK(to_hex(out) == "003c0050000000000000000100");

    out.clear();
    append_method_frame(out, 1, basic_ack{.delivery_tag = 0x0102030405060708, .multiple = true});
    CHECK(to_hex(out) == "0100010000000d003c0050010203040506070801ce");

    // Bits pack LSB first into one octet: passive=1 durable=2 exclusive=4 auto_delete=8 nowait=16.
    out.clear();
    encode_method(queue_declare{.queue = "q", .durable = true, .nowait = true}, out);
    CHECK(to_hex(out) == "0032000a000001711200000000");

    // exchange.unbind-ok is method 51 (the 0-9-1 XML says 51 too; some tables say 41).
    CHECK(exchange_unbind_ok::method_id_v == 51);
    out.clear();
    encode_method(method{exchange_unbind_ok{}}, out);
    CHECK(to_hex(out) == "00280033");
}

TEST_CASE("decode_method: truncated at every length") {
    for (unsigned seed : {0u, 1u}) {
        for (const auto& m : all_samples(seed)) {
            const std::string bytes = payload_of(m);
            for (std::size_t n = 0; n < bytes.size(); ++n) {
                auto r = decode_method(std::string_view(bytes).substr(0, n));
                REQUIRE_MESSAGE(r.has_error(), name_of(m), " cut at ", n);
                CHECK(r.error() == error::truncated);
            }
        }
    }
}

TEST_CASE("decode_method: trailing bytes") {
    for (const auto& m : all_samples(0)) {
        std::string bytes = payload_of(m);
        bytes.push_back('\0');
        auto r = decode_method(bytes);
        REQUIRE(r.has_error());
        CHECK(r.error() == error::trailing_bytes);
    }
}

TEST_CASE("decode_method: unknown ids") {
    for (const char* hex : {"00000000", "000a0000", "000a00ff", "00140001", "ffffffff", "0028002a",
                            "00550014", "005a0028", "003c0000", "0014001e"}) {
        CAPTURE(hex);
        auto r = decode_method(from_hex(hex));
        REQUIRE(r.has_error());
        CHECK(r.error() == error::unknown_method);
        auto ids = peek_method_id(from_hex(hex));
        CHECK(ids.has_value());
    }
    CHECK(peek_method_id(from_hex("000a00")).error() == error::truncated);
    CHECK(decode_method({}).error() == error::truncated);
}

TEST_CASE("decode_method: huge declared lengths with few bytes") {
    // connection.start-ok whose client-properties table claims 4 GiB.
    auto r = decode_method(from_hex("000a000bffffffff00"));
    REQUIRE(r.has_error());
    CHECK(r.error() == error::truncated);
    // connection.secure whose longstr claims 4 GiB.
    r = decode_method(from_hex("000a0014fffffff0abcd"));
    CHECK(r.error() == error::truncated);
    // queue.declare with a shortstr of 255 bytes declared and 3 present.
    r = decode_method(from_hex("0032000a0000ff616263"));
    CHECK(r.error() == error::truncated);
}

TEST_CASE("decode_method: errors inside argument tables propagate") {
    // queue.declare, queue "", flags 0, arguments = { "k": <tag '?'> }.
    auto r =
        decode_method(from_hex("0032000a00000000"
                               "00000003"
                               "016b3f"));
    REQUIRE(r.has_error());
    CHECK(r.error() == error::bad_field_type);
}

TEST_CASE("shortstr length limit") {
    const std::string longest(255, 'q');
    queue_declare ok{.queue = longest};
    CHECK(check_lengths(ok).has_value());
    check_round_trip(ok);

    queue_declare too_long{.queue = std::string(256, 'q')};
    auto checked = check_lengths(too_long);
    REQUIRE(checked.has_error());
    CHECK(checked.error() == error::string_too_long);
    // Encoding still yields a well-formed payload: the name is cut to 255 bytes.
    std::string out;
    encode_method(too_long, out);
    auto decoded = decode_method(out);
    REQUIRE(decoded.has_value());
    CHECK(std::get<queue_declare>(*decoded).queue == longest);

    // A longstr has no such limit.
    connection_secure big{.challenge = std::string(70000, 'c')};
    CHECK(check_lengths(big).has_value());
    check_round_trip(big);
}

TEST_CASE("decode gives the spec defaults for a minimal payload") {
    auto r =
        decode_method(from_hex("003c005a"
                               "0000000000000005"
                               "00"));
    REQUIRE(r.has_value());
    const auto& reject = std::get<basic_reject>(*r);
    CHECK(reject.delivery_tag == 5);
    CHECK_FALSE(reject.requeue);
    // Bits beyond the defined ones are ignored on decode.
    r =
        decode_method(from_hex("003c005a"
                               "0000000000000005"
                               "ff"));
    REQUIRE(r.has_value());
    CHECK(std::get<basic_reject>(*r).requeue);
}
