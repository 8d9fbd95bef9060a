#include "protocol/golden_frames.hpp"
#include "protocol/test_util.hpp"

#include <warren/protocol/frame.hpp>

#include <doctest/doctest.h>
#include <random>
#include <span>
#include <string>
#include <vector>

using namespace warren::protocol;
using namespace warren::protocol::test;

namespace {

struct owned_frame {
    frame_type type;
    std::uint16_t channel;
    std::string payload;
    friend bool operator==(const owned_frame&, const owned_frame&) = default;
};

std::string concat(std::span<const golden_frame> frames) {
    std::string out;
    for (const auto& f : frames) out += from_hex(f.hex);
    return out;
}

// Feeds `stream` in the given chunk sizes (cycled) and collects every frame.
std::vector<owned_frame> parse_chunked(std::string_view stream, std::span<const std::size_t> sizes,
                                       std::uint32_t frame_max = 0) {
    frame_parser p(frame_max);
    std::vector<owned_frame> out;
    std::size_t i = 0;
    while (!stream.empty()) {
        const std::size_t n = std::min(sizes[i++ % sizes.size()], stream.size());
        p.feed(stream.substr(0, n));
        stream.remove_prefix(n);
        for (;;) {
            auto f = p.next();
            REQUIRE(f.has_value());
            if (!*f) break;
            out.push_back({(*f)->type, (*f)->channel, std::string((*f)->payload)});
        }
    }
    CHECK(p.buffered() == 0);
    return out;
}

std::vector<owned_frame> parse_whole(std::string_view stream) {
    const std::size_t all[] = {stream.size()};
    return parse_chunked(stream, all);
}

}  // namespace

TEST_CASE("parse_frame: one complete frame") {
    const std::string bytes = from_hex(
        "0100010000000d003c0050000000000000000100ce"
        "ff");
    auto r = parse_frame(bytes, 0);
    REQUIRE_FALSE(r.ec);
    CHECK(r.consumed == 21);
    CHECK(r.frame.type == frame_type::method);
    CHECK(r.frame.channel == 1);
    CHECK(to_hex(r.frame.payload) == "003c0050000000000000000100");
}

TEST_CASE("parse_frame: needs more bytes for every proper prefix") {
    const std::string bytes = from_hex("0100010000000d003c0050000000000000000100ce");
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto r = parse_frame(std::string_view(bytes).substr(0, n), 0);
        CHECK_FALSE(r.ec);
        CHECK(r.consumed == 0);
    }
}

TEST_CASE("heartbeat frames") {
    std::string out;
    append_heartbeat(out);
    CHECK(to_hex(out) == "08000000000000ce");
    auto r = parse_frame(out, frame_min_size);
    REQUIRE_FALSE(r.ec);
    CHECK(r.frame.type == frame_type::heartbeat);
    CHECK(r.frame.payload.empty());
}

TEST_CASE("frame_too_large as soon as the 7-byte header is seen") {
    // Header says 4096 payload bytes: 4104 in all, over a frame_max of 4096.
    const std::string header = from_hex("03000100001000");
    for (std::size_t n = 0; n < header.size(); ++n) {
        auto r = parse_frame(std::string_view(header).substr(0, n), 4096);
        CHECK_FALSE(r.ec);
    }
    auto r = parse_frame(header, 4096);
    CHECK(r.ec == error::frame_too_large);
    // Exactly frame_max in total is fine.
    std::string fits = from_hex("03000100000ff8") + std::string(4088, 'b') + "\xce";
    r = parse_frame(fits, 4096);
    REQUIRE_FALSE(r.ec);
    CHECK(r.consumed == 4096);
    // A 4 GiB claim with frame_max 0 is simply "need more".
    r = parse_frame(from_hex("030001ffffffff"), 0);
    CHECK_FALSE(r.ec);
    CHECK(r.consumed == 0);
    r = parse_frame(from_hex("030001ffffffff"), 131072);
    CHECK(r.ec == error::frame_too_large);

    frame_parser p(4096);
    p.feed(header);
    CHECK(p.next().error() == error::frame_too_large);
    CHECK(p.next().error() == error::frame_too_large);  // sticky
}

TEST_CASE("bad frame end and bad frame type") {
    auto r = parse_frame(from_hex("08000000000000cf"), 0);
    CHECK(r.ec == error::bad_frame_end);
    r = parse_frame(from_hex("08000000000000"), 0);
    CHECK_FALSE(r.ec);
    for (int t : {0, 4, 5, 6, 7, 9, 0x41, 0xce, 0xff}) {
        std::string one(1, static_cast<char>(t));
        CHECK(parse_frame(one, 0).ec == error::bad_frame_type);
    }
    // "AMQP" (a protocol header sent mid-stream) is a bad frame type: 'A' = 0x41.
    CHECK(parse_frame(protocol_header, 0).ec == error::bad_frame_type);
    frame_parser p;
    p.feed(from_hex("0800"));
    CHECK(!*p.next());
    p.feed(
        from_hex("0000000000ce"
                 "09"));
    auto hb = p.next();
    REQUIRE(hb.has_value());
    REQUIRE(*hb);
    CHECK((*hb)->type == frame_type::heartbeat);
    CHECK(p.next().error() == error::bad_frame_type);
}

TEST_CASE("frame_parser: every golden stream split at every byte offset") {
    for (std::span<const golden_frame> frames : {std::span<const golden_frame>(golden_client),
                                                 std::span<const golden_frame>(golden_server),
                                                 std::span<const golden_frame>(golden_errors)}) {
        const std::string stream = concat(frames);
        const auto whole = parse_whole(stream);
        REQUIRE(whole.size() == frames.size());
        for (std::size_t cut = 1; cut < stream.size(); ++cut) {
            frame_parser p;
            std::vector<owned_frame> got;
            for (std::string_view part :
                 {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
                p.feed(part);
                while (true) {
                    auto f = p.next();
                    REQUIRE(f.has_value());
                    if (!*f) break;
                    got.push_back({(*f)->type, (*f)->channel, std::string((*f)->payload)});
                }
            }
            REQUIRE_MESSAGE(got == whole, "split at ", cut);
        }
    }
}

TEST_CASE("frame_parser: every sample split at every byte offset, and byte by byte") {
    std::vector<std::string> samples;
    for (const auto& f : golden_client) samples.push_back(from_hex(f.hex));
    for (const auto& f : golden_server) samples.push_back(from_hex(f.hex));
    for (const auto& m : all_samples(1)) {
        std::string out;
        append_method_frame(out, 3, m);
        samples.push_back(out);
    }
    const std::size_t one[] = {1};
    for (const auto& s : samples) {
        const auto whole = parse_whole(s);
        REQUIRE(whole.size() == 1);
        CHECK(parse_chunked(s, one) == whole);
        for (std::size_t cut = 1; cut < s.size(); ++cut) {
            const std::size_t sizes[] = {cut, s.size()};
            CHECK(parse_chunked(s, sizes) == whole);
        }
    }
}

TEST_CASE("frame_parser: random chunking of a long stream") {
    std::string stream;
    for (int round = 0; round < 20; ++round) stream += concat(golden_server);
    const auto whole = parse_whole(stream);
    std::mt19937 rng(12345);
    std::uniform_int_distribution<std::size_t> size(1, 700);
    std::vector<std::size_t> sizes(64);
    for (int trial = 0; trial < 20; ++trial) {
        for (auto& s : sizes) s = size(rng);
        CHECK(parse_chunked(stream, sizes) == whole);
    }
}

TEST_CASE("frame_parser: reading in place with prepare/commit, large frames, bounded buffer") {
    // Large body frames mixed with small ones, read the way a socket reader does: into the
    // space prepare() offers, a random part of it at a time.
    std::string stream;
    std::vector<owned_frame> expected;
    std::mt19937 rng(777);
    std::uniform_int_distribution<std::size_t> body_size(0, 130000);
    for (int i = 0; i < 60; ++i) {
        std::string payload(i % 3 == 0 ? 5 : body_size(rng), static_cast<char>('a' + i % 26));
        append_frame(stream, frame_type::body, static_cast<std::uint16_t>(i), payload);
        expected.push_back({frame_type::body, static_cast<std::uint16_t>(i), payload});
    }
    frame_parser p(131072 + 8);
    std::vector<owned_frame> got;
    std::size_t max_capacity = 0;
    std::uniform_int_distribution<std::size_t> want(1, 256 * 1024);
    std::string_view rest = stream;
    while (!rest.empty()) {
        auto space = p.prepare(want(rng));
        REQUIRE(!space.empty());
        const std::size_t n = std::min({space.size(), rest.size(), want(rng)});
        std::copy_n(rest.data(), n, space.data());
        p.commit(n);
        rest.remove_prefix(n);
        max_capacity = std::max(max_capacity, p.capacity());
        for (;;) {
            auto r = p.next();
            REQUIRE(r.has_value());
            if (!*r) break;
            got.push_back({(*r)->type, (*r)->channel, std::string((*r)->payload)});
        }
    }
    CHECK(got == expected);
    CHECK(p.buffered() == 0);
    // At most a partial frame plus one read, doubled once.
    CHECK(max_capacity <= 2 * (131072 + 8 + 256 * 1024));
}

TEST_CASE("append_frame and content headers") {
    std::string out;
    append_frame(out, frame_type::body, 5, "abc");
    CHECK(to_hex(out) ==
          "0300050000000361626"
          "3ce");

    content_header h;
    h.body_size = 12;
    h.properties.delivery_mode = 2;
    h.properties.content_type = "text/plain";
    std::string a, props, b;
    append_content_header(a, 1, h);
    encode_properties(h.properties, props);
    append_content_header_raw(b, 1, 12, props);
    CHECK(a == b);
    auto r = parse_frame(a, 0);
    REQUIRE_FALSE(r.ec);
    CHECK(r.frame.type == frame_type::header);
    auto back = decode_content_header(r.frame.payload);
    REQUIRE(back.has_value());
    CHECK(back->properties == h.properties);
    CHECK(back->body_size == 12);
}

TEST_CASE("body frames split at frame_max - 8") {
    const std::string body(10000, 'x');
    std::string out;
    append_body_frames(out, 2, body, 4096);
    const auto frames = parse_whole(out);
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].payload.size() == 4088);
    CHECK(frames[1].payload.size() == 4088);
    CHECK(frames[2].payload.size() == 10000 - 2 * 4088);
    std::string joined;
    for (const auto& f : frames) {
        CHECK(f.type == frame_type::body);
        CHECK(f.channel == 2);
        CHECK(f.payload.size() + frame_overhead <= 4096);
        joined += f.payload;
    }
    CHECK(joined == body);

    out.clear();
    append_body_frames(out, 2, std::string(4088, 'y'), 4096);
    CHECK(parse_whole(out).size() == 1);
    out.clear();
    append_body_frames(out, 2, body, 0);
    CHECK(parse_whole(out).size() == 1);
    out.clear();
    append_body_frames(out, 2, {}, 4096);
    CHECK(out.empty());
    // A nonsensical frame_max still terminates.
    append_body_frames(out, 2, "abc", 8);
    CHECK(parse_whole(out).size() == 3);
}
