// The API decisions of docs/client.md, checked against every broker the suite runs on:
// a delivery settles at most once, with_timeout, and options written inline inside co_await.
#include "suite_support.hpp"

#include <warren/client/timeout.hpp>

#include <doctest/doctest.h>
#include <stdexcept>
#include <string>
#include <vector>

using namespace warren;
using protocol::reply_code;
using warren::test::world;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<std::uint32_t> depth(channel& ch, std::string queue) {
    co_return (co_await ch.declare_queue(std::move(queue), {.passive = true})).message_count;
}

asio::awaitable<void> settle_at_most_once(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    for (int i = 0; i < 4; ++i) co_await ch.publish("", q.name, std::to_string(i));
    auto stream = co_await ch.consume(q.name);
    std::vector<delivery> got;
    for (int i = 0; i < 4; ++i) got.push_back(std::move(*co_await stream.next()));

    CHECK_FALSE(got[0].settled());
    co_await got[0].ack();
    CHECK(got[0].settled());
    // A second settle of the same delivery: a clear error, and no frame (the broker would
    // close the channel with 406 PRECONDITION_FAILED "unknown delivery tag").
    CHECK_THROWS_AS(co_await got[0].ack(), std::logic_error);
    CHECK_THROWS_AS(co_await got[0].nack(requeue::yes), std::logic_error);
    CHECK_THROWS_AS(co_await ch.ack(got[0].delivery_tag()), std::logic_error);

    // `multiple` settles the earlier ones too: settling one of them again is refused.
    co_await got[2].ack(multiple::yes);
    CHECK(got[1].settled());
    CHECK_THROWS_AS(co_await got[1].reject(requeue::no), std::logic_error);
    CHECK_THROWS_AS(co_await ch.ack(9999), std::logic_error);  // never delivered

    co_await got[3].nack(requeue::yes);  // back to the queue, redelivered
    auto again = co_await stream.next();
    REQUIRE(again);
    CHECK(again->redelivered());
    CHECK(again->body() == "3");
    co_await again->ack();

    // The channel is still open: nothing reached the broker that it would refuse.
    CHECK(ch.is_open());
    CHECK((co_await depth(ch, q.name)) == 0);

    // A no_ack delivery is settled from the start.
    auto q2 = co_await ch.declare_queue("", {.exclusive = true});
    co_await ch.publish("", q2.name, "auto");
    auto auto_stream = co_await ch.consume(q2.name, {.no_ack = true});
    auto a = co_await auto_stream.next();
    REQUIRE(a);
    CHECK(a->settled());
    CHECK_THROWS_AS(co_await a->ack(), std::logic_error);
    CHECK(ch.is_open());
    co_await ch.close();
    CHECK(got[0].settled());
}

asio::awaitable<void> timeouts(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    auto stream = co_await ch.consume(q.name);

    const auto t0 = std::chrono::steady_clock::now();
    try {
        co_await with_timeout(stream.next(), 50ms);
        FAIL("next() on an empty queue returned");
    } catch (const timeout_error& e) {
        CHECK(e.code() == asio::error::timed_out);
        CHECK(std::string(e.what()).find("50 ms") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);

    // The timed-out next() took nothing: the next message arrives in the same stream.
    co_await ch.publish("", q.name, "after the timeout");
    auto d = co_await with_timeout(stream.next(), 10s);
    REQUIRE(d);
    CHECK(d->body() == "after the timeout");
    co_await with_timeout(d->ack(), 10s);

    // An operation that fails reports its own error at once, not at the deadline.
    const auto t1 = std::chrono::steady_clock::now();
    try {
        co_await with_timeout(ch.declare_queue(w.unique("missing"), {.passive = true}), 30s);
        FAIL("passive declare of a missing queue succeeded");
    } catch (const channel_error& e) {
        CHECK(e.code() == reply_code::not_found);
    }
    CHECK(std::chrono::steady_clock::now() - t1 < 10s);
}

// Options, argument tables and properties written inline inside co_await expressions: the
// shapes GCC 12 used to double-free (run under ASan in the ci preset).
asio::awaitable<void> inline_options(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel({.confirms = true, .max_unconfirmed = 16});
    const auto x = w.unique("inline-x");
    co_await ch.declare_exchange(
        x, exchange_type::topic, {.durable = false, .auto_delete = true},
        field_table().with("alternate-exchange", std::string("amq.fanout")));
    auto q =
        co_await ch.declare_queue(w.unique("inline-q") + std::string(40, 'x'), {.exclusive = true},
                                  field_table()
                                      .with("x-max-length", std::int32_t{10})
                                      .with("x-message-ttl", std::int32_t{600000}));
    co_await ch.bind_queue(q.name, x, std::string("a.") + "#",
                           field_table().with("x-note", std::string(64, 'n')));
    basic_properties p;
    p.content_type = std::string(50, 'c');
    p.headers = field_table().with("x-trace", std::string(100, 't'));
    co_await ch.publish(x, "a.b", std::string(1000, 'b'), p,
                        {.mandatory = true, .persistent = true});
    co_await ch.publish(x, "a.b", std::string(1000, 'b'), basic_properties(p),
                        {.persistent = true});
    auto stream = co_await ch.consume(q.name, {.exclusive = true},
                                      field_table().with("x-priority", std::int32_t{1}),
                                      w.unique("inline-tag") + std::string(30, 't'));
    for (int i = 0; i < 2; ++i) {
        auto d = co_await stream.next();
        REQUIRE(d);
        CHECK(d->properties().content_type == p.content_type);
        CHECK(d->properties().delivery_mode == std::uint8_t{2});
        co_await d->ack();
    }
    co_await ch.delete_exchange(x);
}

}  // namespace

TEST_CASE("a delivery settles at most once; a second settle is an error, never a frame") {
    world w;
    w.run(settle_at_most_once(w));
}
TEST_CASE("with_timeout: a deadline for any awaitable, cancel-safe") {
    world w;
    w.run(timeouts(w));
}
TEST_CASE("options, tables and properties inline inside co_await") {
    world w;
    w.run(inline_options(w));
}
