// consumer_timeout: a channel whose oldest unacked delivery is too old is closed (406).
#include "ext_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using namespace warren::test;

TEST_CASE("consumer_timeout closes the channel with RabbitMQ's text and requeues at once") {
    timed_broker tb(std::chrono::milliseconds(2000));
    client c(tb.b);
    client other(tb.b);
    auto& ch = c.channel(3);
    declare(ch, "q");
    REQUIRE(publish(ch, "", "q", "a"));
    REQUIRE(publish(ch, "", "q", "b"));
    consume(ch, "q");
    CHECK(tb.woken == tb.now + std::chrono::milliseconds(2000));
    REQUIRE(c.sink.deliveries.size() == 2);
    tb.advance(1000);
    REQUIRE(ch.ack(2, false));  // acking a newer one does not help: the oldest counts
    const auto next = tb.advance(999);
    CHECK(next == tb.now + std::chrono::milliseconds(1));
    CHECK(c.sink.channel_errors.empty());
    tb.advance(1);
    REQUIRE(c.sink.channel_errors.size() == 1);
    CHECK(c.sink.channel_errors[0].first == 3);
    CHECK(c.sink.channel_errors[0].second ==
          "PRECONDITION_FAILED - delivery acknowledgement on channel 3 timed out. Timeout value "
          "used: 2000 ms. "
          "This timeout value can be configured, see consumers doc guide to learn more");
    CHECK(!c.conn.find_channel(3));
    CHECK(tb.count("q") == 1);  // requeued
    // The connection and its other channels are unaffected; no_ack consumers never time out.
    auto& ch2 = other.channel(1);
    consume(ch2, "q", true);
    CHECK(other.sink.deliveries.size() == 1);
    CHECK(other.sink.deliveries[0].redelivered);
    tb.advance(10000);
    CHECK(other.sink.channel_errors.empty());
}

TEST_CASE("consumer_timeout also applies to unacked basic.get; 0 disables it") {
    {
        timed_broker tb(std::chrono::milliseconds(100));
        client c(tb.b);
        auto& ch = c.channel();
        declare(ch, "q");
        REQUIRE(publish(ch, "", "q", "a"));
        CHECK(get_body(ch, "q", false) == "a");
        tb.advance(100);
        CHECK(c.sink.channel_errors.size() == 1);
    }
    {
        timed_broker tb;  // 0 = off
        client c(tb.b);
        auto& ch = c.channel();
        declare(ch, "q");
        REQUIRE(publish(ch, "", "q", "a"));
        CHECK(get_body(ch, "q", false) == "a");
        CHECK(tb.advance(100000000) == broker::never);
        CHECK(c.sink.channel_errors.empty());
    }
}
