#include <warren/store/record.hpp>

#include <array>
#include <doctest/doctest.h>
#include <string>

using namespace warren;
using store::parse_status;
using store::record_kind;

namespace {

broker::message sample(std::uint64_t id, std::string body) {
    broker::message m;
    m.id = id;
    m.exchange = "logs";
    m.routing_key = "error";
    m.encoded_properties = std::string("\x10\x00\x02", 3);  // delivery_mode = 2
    m.body = std::move(body);
    return m;
}

}  // namespace

TEST_CASE("an enqueue record round-trips") {
    std::string out;
    const std::array<std::uint32_t, 2> queues{3, 9};
    auto m = sample(42, std::string("hello\0world", 11));
    m.published_ms = 1764000000123;
    store::append_enqueue(out, m, queues);
    store::record_view rec;
    REQUIRE(store::parse_record(out, rec) == parse_status::ok);
    CHECK(rec.size == out.size());
    CHECK(rec.kind == record_kind::enqueue_timed);
    store::enqueue_record e;
    REQUIRE(store::decode_enqueue_timed(rec.payload, e));
    CHECK(e.published_ms == 1764000000123);
    CHECK(e.id == 42);
    CHECK(e.queues == std::vector<std::uint32_t>{3, 9});
    CHECK(e.exchange == "logs");
    CHECK(e.routing_key == "error");
    CHECK(e.properties == std::string_view("\x10\x00\x02", 3));
    CHECK(e.body == std::string_view("hello\0world", 11));
}

TEST_CASE("an enqueue record of the old format (kind 1, no publish time) still decodes") {
    std::string out;
    const std::array<std::uint32_t, 1> queues{5};
    store::append_enqueue(out, sample(7, "abc"), queues);
    store::record_view rec;
    REQUIRE(store::parse_record(out, rec) == parse_status::ok);
    // The old payload is the new one without its leading publish time.
    store::enqueue_record e;
    REQUIRE(store::decode_enqueue(rec.payload.substr(8), e));
    CHECK(e.id == 7);
    CHECK(e.published_ms == 0);
    CHECK(e.body == "abc");
}

TEST_CASE("settle records round-trip and are small") {
    std::string out;
    store::append_settle(out, record_kind::removed, 7, 1ull << 40);
    CHECK(out.size() == 21);
    store::record_view rec;
    REQUIRE(store::parse_record(out, rec) == parse_status::ok);
    CHECK(rec.kind == record_kind::removed);
    store::settle_record s;
    REQUIRE(store::decode_settle(rec.payload, s));
    CHECK(s.queue == 7);
    CHECK(s.id == 1ull << 40);
    CHECK_FALSE(store::decode_settle(rec.payload.substr(1), s));
}

TEST_CASE("every truncation of a record is torn, never ok") {
    std::string out;
    const std::array<std::uint32_t, 1> queues{1};
    store::append_enqueue(out, sample(1, std::string(300, 'x')), queues);
    store::record_view rec;
    CHECK(store::parse_record("", rec) == parse_status::end);
    for (std::size_t n = 1; n < out.size(); ++n) {
        CAPTURE(n);
        CHECK(store::parse_record(std::string_view(out).substr(0, n), rec) == parse_status::torn);
    }
}

TEST_CASE("every single-bit flip is detected") {
    std::string out;
    const std::array<std::uint32_t, 1> queues{1};
    store::append_enqueue(out, sample(5, "abcdefgh"), queues);
    for (std::size_t i = 0; i < out.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            auto bad = out;
            bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
            store::record_view rec;
            CAPTURE(i);
            CHECK(store::parse_record(bad, rec) != parse_status::ok);
        }
    }
}

TEST_CASE("a zero or huge length is corrupt") {
    store::record_view rec;
    CHECK(store::parse_record(std::string(16, '\0'), rec) == parse_status::corrupt);
    CHECK(store::parse_record(std::string(16, '\xff'), rec) == parse_status::corrupt);
}
