// The look-ahead readers (peek_*), the RabbitMQ-ordered diagnosis of bad frames, the protocol
// header check, frame_parser's unparsed()/consume(), and the SASL response decoder.
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>
#include <warren/protocol/properties.hpp>
#include <warren/protocol/sasl.hpp>

#include <doctest/doctest.h>
#include <string>

using namespace warren::protocol;

TEST_CASE("peek_publish reads exchange and routing key and refuses anything else") {
    basic_publish p;
    p.exchange = "amq.direct";
    p.routing_key = std::string(255, 'k');
    p.mandatory = true;
    std::string payload;
    encode_method(p, payload);
    auto r = peek_publish(payload);
    REQUIRE(r);
    CHECK(r->exchange == "amq.direct");
    CHECK(r->routing_key == p.routing_key);
    // Every truncation that cuts into the names is refused; cutting the flags octet is not
    // peek_publish's business (decode_into reports it).
    for (std::size_t n = 0; n + 1 < payload.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(peek_publish(std::string_view(payload).substr(0, n)));
    }
    std::string ack;
    encode_method(basic_ack{}, ack);
    CHECK_FALSE(peek_publish(ack));
}

TEST_CASE("peek_method splits ids from arguments") {
    queue_declare d;
    d.queue = "q";
    std::string payload;
    encode_method(d, payload);
    auto m = peek_method(payload);
    REQUIRE(m.has_value());
    CHECK(m->class_id == 50);
    CHECK(m->method_id == 10);
    CHECK(m->arguments == std::string_view(payload).substr(4));
    CHECK(peek_method(std::string_view("\x00\x32\x00", 3)).error() == error::truncated);
}

TEST_CASE("peek_content_header reads the fixed fields and keeps the properties as sent") {
    basic_properties props;
    props.content_type = "text/plain";
    std::string payload;
    encode_content_header(content_header{60, 1234, props}, payload);
    auto v = peek_content_header(payload);
    REQUIRE(v.has_value());
    CHECK(v->class_id == 60);
    CHECK(v->weight == 0);
    CHECK(v->body_size == 1234);
    CHECK(v->property_flags == 0x8000);
    CHECK(v->encoded_properties == std::string_view(payload).substr(12));
    for (std::size_t n = 0; n < 14; ++n)
        CHECK(peek_content_header(payload.substr(0, n)).error() == error::truncated);
}

TEST_CASE("diagnose_frame reports bad frames in RabbitMQ's order, the same for any split") {
    auto frame = [](std::uint8_t type, std::string payload, char end = '\xCE') {
        std::string f;
        append_frame_header(f, static_cast<frame_type>(type), 1,
                            static_cast<std::uint32_t>(payload.size()));
        return f + payload + end;
    };
    const std::uint32_t max = 4096 + 8;
    SUBCASE("an unknown type is known only once the whole frame is there") {
        const auto f = frame(9, "abc");
        for (std::size_t n = 0; n < f.size(); ++n) CHECK_FALSE(diagnose_frame(f.substr(0, n), max));
        auto d = diagnose_frame(f, max);
        REQUIRE(d);
        CHECK(d->code == error::bad_frame_type);
        CHECK(d->header.type == 9);
        CHECK(d->payload == "abc");
    }
    SUBCASE("a bad frame-end octet is reported before an unknown type") {
        auto d = diagnose_frame(frame(9, "abc", '\xAB'), max);
        REQUIRE(d);
        CHECK(d->code == error::bad_frame_end);
        CHECK(d->end_octet == 0xAB);
    }
    SUBCASE("a frame over frame_max is refused from its header alone") {
        auto f = frame(1, std::string(5000, 'x'));
        for (std::size_t n = 0; n < 7; ++n) CHECK_FALSE(diagnose_frame(f.substr(0, n), max));
        auto d = diagnose_frame(f.substr(0, 7), max);
        REQUIRE(d);
        CHECK(d->code == error::frame_too_large);
        CHECK(d->header.size == 5000);
        CHECK(d->payload.empty());
    }
    SUBCASE("a well-formed frame is no fault") {
        CHECK_FALSE(diagnose_frame(frame(1, "abcd"), max));
    }
}

TEST_CASE("match_protocol_header waits for eight octets") {
    const std::string h(protocol_header);
    for (std::size_t n = 0; n < 8; ++n)
        CHECK(match_protocol_header(h.substr(0, n)) == header_match::incomplete);
    CHECK(match_protocol_header(h + "more") == header_match::match);
    CHECK(match_protocol_header("HTTP/1.1 GET") == header_match::mismatch);
}

TEST_CASE(
    "frame_parser: unparsed() shows what next() has not returned, consume() drops a preamble") {
    frame_parser p(0);
    std::string in(protocol_header);
    append_heartbeat(in);
    append_heartbeat(in);
    p.feed(in.substr(0, 20));
    CHECK(p.unparsed() == std::string_view(in).substr(0, 20));
    p.consume(8);
    auto f = p.next();
    REQUIRE(f.has_value());
    REQUIRE(f->has_value());
    CHECK(p.unparsed() == std::string_view(in).substr(16, 4));
    CHECK_FALSE(p.next()->has_value());
    p.feed(in.substr(20));
    REQUIRE(p.next()->has_value());
    CHECK(p.unparsed().empty());
}

TEST_CASE("decode_sasl_response: PLAIN and AMQPLAIN, malformed and unknown") {
    auto plain = decode_sasl_response("PLAIN", std::string("\0guest\0secret", 13));
    REQUIRE(plain);
    CHECK(plain->user == "guest");
    CHECK(plain->password == "secret");
    auto bad = decode_sasl_response("PLAIN", "no nul at all");
    REQUIRE(bad);
    CHECK(bad->user.empty());
    field_table t;
    t.add("LOGIN", "app");
    t.add("PASSWORD", "pw");
    std::string table;
    encode_table(t, table);
    auto amqplain = decode_sasl_response("AMQPLAIN", std::string_view(table).substr(4));
    REQUIRE(amqplain);
    CHECK(amqplain->user == "app");
    CHECK(amqplain->password == "pw");
    CHECK_FALSE(decode_sasl_response("EXTERNAL", ""));
}
