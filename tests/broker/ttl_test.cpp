// Message TTL (x-message-ttl, expiration) and queue expiry (x-expires), time driven by tick.
#include "ext_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using namespace warren::test;
using protocol::field_table;

TEST_CASE("x-message-ttl: messages expire together at the TTL; the host is asked to wake up") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", args({{"x-message-ttl", std::int32_t{300}}})));
    const auto published = tb.now;
    for (int i = 0; i < 3; ++i) REQUIRE(publish(ch, "", "q", "m"));
    CHECK(tb.woken == published + std::chrono::milliseconds(300));
    CHECK(tb.advance(299) == published + std::chrono::milliseconds(300));
    CHECK(tb.count("q") == 3);
    CHECK(tb.advance(1) == broker::never);
    CHECK(tb.count("q") == 0);
}

TEST_CASE("the lower of x-message-ttl and expiration wins; the property is delivered unchanged") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q1", args({{"x-message-ttl", std::int32_t{200}}})));
    REQUIRE(declare_args(ch, "q2", args({{"x-message-ttl", std::int32_t{1000}}})));
    REQUIRE(publish(ch, "", "q1", "a", false, expiring("1000")));
    REQUIRE(publish(ch, "", "q2", "b", false, expiring("300")));
    tb.advance(200);
    CHECK(tb.count("q1") == 0);
    CHECK(tb.count("q2") == 1);
    tb.advance(100);
    CHECK(tb.count("q2") == 0);
    declare(ch, "q3");
    REQUIRE(publish(ch, "", "q3", "c", false, expiring("5000")));
    consume(ch, "q3", true);
    REQUIRE(c.sink.deliveries.size() == 1);
    CHECK(c.sink.deliveries[0].properties.expiration == "5000");
}

TEST_CASE("per-message TTL: only the head expires; an expired message behind it stays counted") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "q");
    REQUIRE(publish(ch, "", "q", "long", false, expiring("5000")));
    REQUIRE(publish(ch, "", "q", "short", false, expiring("100")));
    REQUIRE(publish(ch, "", "q", "none"));
    tb.advance(500);
    CHECK(tb.count("q") == 3);
    protocol::basic_get g;
    g.queue = "q";
    g.no_ack = true;
    auto r = ch.get(g);
    REQUIRE(r);
    REQUIRE(*r);
    CHECK((*r)->msg->body == "long");
    CHECK((*r)->message_count == 1);  // "short" was dropped right after the fetch
    CHECK(get_body(ch, "q") == "none");
}

TEST_CASE("a per-message TTL at the head is timed; a later consumer never sees expired messages") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "q");
    REQUIRE(publish(ch, "", "q", "a", false, expiring("50")));
    CHECK(tb.woken == tb.now + std::chrono::milliseconds(50));
    tb.advance(50);
    CHECK(tb.count("q") == 0);
    REQUIRE(publish(ch, "", "q", "b", false, expiring("50")));
    REQUIRE(publish(ch, "", "q", "c"));
    tb.now += std::chrono::milliseconds(60);  // no tick: dispatch itself must drop "b"
    consume(ch, "q", true);
    CHECK(c.sink.bodies() == std::vector<std::string>{"c"});
}

TEST_CASE(
    "TTL 0: dropped without a consumer, delivered to an idle one, expired at the prefetch limit") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", args({{"x-message-ttl", std::int32_t{0}}})));
    REQUIRE(publish(ch, "", "q", "lost"));
    CHECK(tb.count("q") == 0);
    REQUIRE(publish(ch, "", "q", "lost2", false, expiring("0")));
    CHECK(tb.count("q") == 0);
    qos(ch, 1);
    consume(ch, "q");
    REQUIRE(publish(ch, "", "q", "taken"));
    REQUIRE(publish(ch, "", "q", "over the limit"));
    CHECK(c.sink.bodies() == std::vector<std::string>{"taken"});
    CHECK(tb.count("q") == 0);
    REQUIRE(ch.ack(c.sink.deliveries[0].delivery_tag, false));
    CHECK(c.sink.deliveries.size() == 1);
}

TEST_CASE(
    "unacked messages never expire; requeued after their TTL they expire at once (expiry fixed at "
    "publish)") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "q");
    REQUIRE(publish(ch, "", "q", "a", false, expiring("600")));
    protocol::basic_get g;
    g.queue = "q";
    auto r = ch.get(g);
    REQUIRE(r);
    REQUIRE(*r);
    const auto tag = (*r)->delivery_tag;
    tb.advance(400);
    REQUIRE(ch.nack(tag, false, true));
    CHECK(tb.count("q") == 1);
    tb.advance(199);
    CHECK(tb.count("q") == 1);
    tb.advance(1);  // 600 ms after the publish, not after the requeue
    CHECK(tb.count("q") == 0);

    REQUIRE(publish(ch, "", "q", "b", false, expiring("100")));
    r = ch.get(g);
    REQUIRE(*r);
    tb.advance(500);
    REQUIRE(ch.reject((*r)->delivery_tag, true));
    CHECK(tb.count("q") == 0);
}

TEST_CASE("expiration property validation: RabbitMQ's texts; odd integers accepted") {
    timed_broker tb;
    client c(tb.b);
    declare(c.channel(), "q");
    struct {
        const char* value;
        const char* text;
    } cases[] = {{"abc", "no_integer"},
                 {"", "no_integer"},
                 {" 5", "no_integer"},
                 {"-1", "{value_negative,-1}"},
                 {"1.5", "{leftover_string,\".5\"}"},
                 {"5 ", "{leftover_string,\" \"}"},
                 {"0x10", "{leftover_string,\"x10\"}"},
                 {"1e3", "{leftover_string,\"e3\"}"},
                 {"315360000001", "{value_too_large,315360000001}"},
                 {"99999999999999", "{value_too_large,99999999999999}"}};
    std::uint16_t id = 1;
    for (const auto& k : cases) {
        auto r = publish(c.channel(id), "", "q", "x", false, expiring(k.value));
        REQUIRE(!r);
        CHECK(r.error().code == protocol::reply_code::precondition_failed);
        CHECK(r.error().text ==
              std::string("PRECONDITION_FAILED - invalid expiration '") + k.value + "': " + k.text);
        ++id;
    }
    for (const char* ok : {"+5000", "007000", "315360000000", "-0"}) {
        CHECK(publish(c.channel(id), "", "q", "x", false, expiring(ok)));
    }
    // A missing exchange wins over a bad expiration.
    auto r = publish(c.channel(id), "nope", "q", "x", false, expiring("abc"));
    REQUIRE(!r);
    CHECK(r.error().code == protocol::reply_code::not_found);
}

TEST_CASE(
    "x-expires: an unused queue is deleted; declare, get and consume reset it, publish does not") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", args({{"x-expires", std::int32_t{500}}})));
    tb.advance(300);
    REQUIRE(publish(ch, "", "q", "m"));  // does not reset
    tb.advance(199);
    CHECK(tb.queue("q"));
    tb.advance(1);
    CHECK(!tb.queue("q"));

    REQUIRE(declare_args(ch, "q", args({{"x-expires", std::int32_t{500}}})));
    tb.advance(400);
    CHECK(!get_body(ch, "q"));  // get-empty resets too
    tb.advance(400);
    CHECK(tb.queue("q"));
    protocol::queue_declare passive;
    passive.queue = "q";
    passive.passive = true;
    REQUIRE(ch.queue_declare(passive));
    tb.advance(400);
    CHECK(tb.queue("q"));
    auto tag = consume(ch, "q");
    tb.advance(10000);
    CHECK(tb.queue("q"));  // a consumer keeps it
    ch.cancel(tag);
    tb.advance(499);
    CHECK(tb.queue("q"));
    tb.advance(1);
    CHECK(!tb.queue("q"));
}

TEST_CASE("x-expires: unacked messages do not keep the queue alive") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", args({{"x-expires", std::int32_t{500}}})));
    REQUIRE(publish(ch, "", "q", "m"));
    protocol::basic_get g;
    g.queue = "q";
    REQUIRE(ch.get(g).value());
    tb.advance(500);
    CHECK(!tb.queue("q"));
    CHECK(ch.unacked_count() == 1);
    CHECK(ch.ack(1, false));
}
