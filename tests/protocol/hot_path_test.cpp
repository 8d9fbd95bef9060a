// The hot-path codec entry points must agree byte for byte with the generated codec.
#include <warren/protocol/codec.hpp>

#include <doctest/doctest.h>
#include <string>

using namespace warren::protocol;

TEST_CASE("append_basic_deliver equals the generic encoder") {
    for (bool redelivered : {false, true}) {
        basic_deliver d;
        d.consumer_tag = "amq.ctag-abcdefghijklmnopqrstuv";
        d.delivery_tag = 0x0102030405060708ull;
        d.redelivered = redelivered;
        d.exchange = "";
        d.routing_key = std::string(300, 'k');  // longer than a shortstr: cut the same way
        std::string generic, fast;
        append_method_frame(generic, 7, d);
        append_basic_deliver(fast, 7, d.consumer_tag, d.delivery_tag, d.redelivered, d.exchange,
                             d.routing_key);
        CHECK(fast == generic);
    }
}

TEST_CASE("decode_into(basic_publish) matches decode_method and rejects what it cannot take") {
    basic_publish p;
    p.exchange = "amq.direct";
    p.routing_key = "some.key";
    p.mandatory = true;
    std::string payload;
    encode_method(p, payload);
    basic_publish into;
    into.routing_key = "previous value, longer than the new one";
    REQUIRE(decode_into(payload, into));
    auto generic = decode_method(payload);
    REQUIRE(generic.has_value());
    CHECK(std::get<basic_publish>(*generic) == into);
    // every truncation, trailing bytes and another method all fail
    for (std::size_t n = 0; n < payload.size(); ++n)
        CHECK_FALSE(decode_into(payload.substr(0, n), into));
    CHECK_FALSE(decode_into(payload + "x", into));
    std::string ack;
    encode_method(basic_ack{}, ack);
    CHECK_FALSE(decode_into(ack, into));
}

TEST_CASE("decode_into(basic_ack)") {
    basic_ack a;
    a.delivery_tag = 42;
    a.multiple = true;
    std::string payload;
    encode_method(a, payload);
    basic_ack into;
    REQUIRE(decode_into(payload, into));
    CHECK(into.delivery_tag == 42);
    CHECK(into.multiple);
    CHECK_FALSE(decode_into(payload.substr(0, payload.size() - 1), into));
    CHECK_FALSE(decode_into(payload + "x", into));
}

TEST_CASE("decode_into(basic_deliver) matches decode_method and rejects what it cannot take") {
    for (bool redelivered : {false, true}) {
        basic_deliver d;
        d.consumer_tag = "amq.ctag-abcdefghijklmnopqrstuv";
        d.delivery_tag = 0x0102030405060708ull;
        d.redelivered = redelivered;
        d.exchange = "perf-exchange-with-a-long-name";
        d.routing_key = "rk";
        std::string payload;
        encode_method(d, payload);
        basic_deliver into;
        into.exchange = "previous value, longer than some new ones";
        into.redelivered = !redelivered;
        REQUIRE(decode_into(payload, into));
        auto generic = decode_method(payload);
        REQUIRE(generic.has_value());
        CHECK(std::get<basic_deliver>(*generic) == into);
        CHECK(into == d);
        for (std::size_t n = 0; n < payload.size(); ++n)
            CHECK_FALSE(decode_into(payload.substr(0, n), into));
        CHECK_FALSE(decode_into(payload + "x", into));
        std::string publish;
        encode_method(basic_publish{}, publish);
        CHECK_FALSE(decode_into(publish, into));
    }
}
