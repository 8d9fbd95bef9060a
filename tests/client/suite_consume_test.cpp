// Consumers (prefetch fairness, server cancel, multiple acks), confirms, returns, cancellation.
#include "suite_support.hpp"

#include <boost/asio/detached.hpp>

#include <doctest/doctest.h>
#include <vector>

using namespace warren;
using protocol::reply_code;
using warren::test::world;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

asio::awaitable<std::uint32_t> depth(channel& ch, std::string queue) {
    auto info = co_await ch.declare_queue(std::move(queue), {.passive = true});
    co_return info.message_count;
}

asio::awaitable<void> prefetch_fairness(world& w) {
    auto conn = co_await w.connect();
    auto setup = co_await conn.open_channel();
    auto q = co_await setup.declare_queue(w.unique("tasks"), {.exclusive = true});
    auto busy_ch = co_await conn.open_channel();
    auto free_ch = co_await conn.open_channel();
    co_await busy_ch.set_prefetch(1);
    co_await free_ch.set_prefetch(1);
    auto busy = co_await busy_ch.consume(q.name);
    auto idle = co_await free_ch.consume(q.name);
    for (int i = 0; i < 10; ++i) co_await setup.publish("", q.name, "task " + std::to_string(i));

    // `busy` takes one task and never acks it: with prefetch 1, every other task must go to the
    // consumer that acks.
    auto held = co_await busy.next();
    REQUIRE(held);
    int done = 0;
    while (done < 9) {
        auto d = co_await idle.next();
        REQUIRE(d);
        co_await d->ack();
        ++done;
    }
    co_await depth(busy_ch, q.name);  // a round trip on busy's channel: nothing else was sent
    CHECK(busy.buffered() == 0);
    CHECK((co_await depth(setup, q.name)) == 0);
    co_await held->ack();
}

asio::awaitable<void> try_next_takes_only_buffered(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue(w.unique("try-next"), {.exclusive = true});
    auto stream = co_await ch.consume(q.name);
    CHECK_FALSE(stream.try_next());  // nothing buffered: no wait, nothing taken
    for (int i = 0; i < 3; ++i) co_await ch.publish("", q.name, "m" + std::to_string(i));
    for (int i = 0; i < 500 && stream.buffered() != 3; ++i) co_await w.sleep(10ms);
    REQUIRE(stream.buffered() == 3);
    auto first = stream.try_next();
    REQUIRE(first);
    CHECK(first->body() == "m0");
    co_await first->ack();                 // a delivery taken this way settles as any other
    auto second = co_await stream.next();  // next() goes on where try_next() stopped
    REQUIRE(second);
    CHECK(second->body() == "m1");
    co_await second->ack();
    auto third = stream.try_next();
    REQUIRE(third);
    CHECK(third->body() == "m2");
    co_await third->ack();
    CHECK(stream.buffered() == 0);
    CHECK_FALSE(stream.try_next());
    // After the stream ended, try_next() has nothing and next() says it ended.
    co_await stream.cancel();
    CHECK_FALSE(stream.try_next());
    CHECK_FALSE(co_await stream.next());
    CHECK((co_await depth(ch, q.name)) == 0);
}

asio::awaitable<void> server_cancel(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto other = co_await conn.open_channel();
    auto q = co_await ch.declare_queue(w.unique("doomed"));
    auto stream = co_await ch.consume(q.name);
    co_await other.publish("", q.name, "last words");
    auto d = co_await stream.next();
    REQUIRE(d);
    co_await d->ack();
    co_await other.delete_queue(q.name);
    CHECK_FALSE(co_await stream.next());  // basic.cancel from the broker ends the stream
    CHECK(ch.is_open());
}

asio::awaitable<void> multiple_acks_and_recover(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    for (int i = 0; i < 5; ++i) co_await ch.publish("", q.name, std::to_string(i));
    auto stream = co_await ch.consume(q.name);
    std::vector<delivery> got;
    for (int i = 0; i < 5; ++i) {
        auto d = co_await stream.next();
        REQUIRE(d);
        CHECK(d->body() == std::to_string(i));
        got.push_back(std::move(*d));
    }
    co_await got[2].ack(multiple::yes);  // settles 0, 1 and 2
    co_await ch.recover(requeue::yes);   // 3 and 4 come back, redelivered
    for (int i = 3; i < 5; ++i) {
        auto d = co_await stream.next();
        REQUIRE(d);
        CHECK(d->body() == std::to_string(i));
        CHECK(d->redelivered());
        co_await d->reject(requeue::no);
    }
    co_await stream.cancel();
    CHECK((co_await depth(ch, q.name)) == 0);
}

asio::awaitable<void> many_confirms(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel({.confirms = true});
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    std::vector<confirmation> pending;
    for (int i = 0; i < 500; ++i) pending.push_back(co_await ch.start_publish("", q.name, "m"));
    CHECK(pending.back().sequence() == 500);
    for (auto& c : pending) co_await c.wait();
    CHECK(ch.unconfirmed() == 0);
    CHECK(co_await ch.wait_for_confirms());
    co_await ch.publish("", q.name, "one more");  // resumes on its ack
    CHECK((co_await depth(ch, q.name)) == 501);
}

asio::awaitable<void> windowed_publisher(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel({.confirms = true, .max_unconfirmed = 8});
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    std::size_t max_seen = 0;
    std::vector<confirmation> pending;
    for (int i = 0; i < 200; ++i) {
        pending.push_back(co_await ch.start_publish("", q.name, std::to_string(i)));
        max_seen = std::max(max_seen, ch.unconfirmed());
    }
    CHECK(max_seen <= 8);
    CHECK(co_await ch.wait_for_confirms());
    for (auto& c : pending) CHECK(c.settled());
    CHECK((co_await depth(ch, q.name)) == 200);
}

asio::awaitable<void> mandatory_returns(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel({.confirms = true});
    const auto nowhere = w.unique("nowhere");
    basic_properties props;
    props.message_id = "lost-1";
    co_await ch.publish("", nowhere, "unroutable", props, {.mandatory = true});
    auto r = co_await ch.next_return();  // the return precedes the ack
    CHECK(r.code == reply_code::no_route);
    CHECK(r.reply_text == "NO_ROUTE");
    CHECK(r.routing_key == nowhere);
    CHECK(r.body == "unroutable");
    CHECK(r.properties.message_id == "lost-1");

    std::vector<std::string> handled;
    auto ch2 = co_await conn.open_channel();
    ch2.set_return_handler(
        [&handled](returned_message m) { handled.push_back(std::move(m.body)); });
    co_await ch2.publish("", nowhere, "to the handler", {.mandatory = true});
    co_await ch2.publish("", nowhere, "not mandatory: dropped");
    co_await ch2.declare_queue("", {.exclusive = true});  // a round trip: the return arrived before
    REQUIRE(handled.size() == 1);
    CHECK(handled[0] == "to the handler");
}

/// Races next() against an already expired timer again and again: whichever wins, no delivery
/// may be lost or duplicated.
asio::awaitable<void> cancelled_next_loses_nothing(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    auto stream = co_await ch.consume(q.name, {.no_ack = true});

    asio::steady_timer t(w.io, std::chrono::milliseconds(1));
    auto r0 = co_await detail::race(stream.next(), t.async_wait(asio::use_awaitable));
    CHECK(r0.index() == 1);  // nothing to deliver: the timer wins

    constexpr int n = 200;
    for (int i = 0; i < n; ++i) co_await ch.publish("", q.name, std::to_string(i));
    int next_expected = 0;
    int timer_wins = 0;
    while (next_expected < n) {
        asio::steady_timer expired(w.io, std::chrono::steady_clock::time_point::min());
        auto r = co_await detail::race(stream.next(), expired.async_wait(asio::use_awaitable));
        if (r.index() == 1) {
            ++timer_wins;
            continue;
        }
        auto& d = std::get<0>(r);
        REQUIRE(d);
        REQUIRE(d->body() == std::to_string(next_expected));
        ++next_expected;
    }
    CHECK(next_expected == n);
    MESSAGE("timer won " << timer_wins << " races");
    co_await stream.cancel();
    CHECK_FALSE(co_await stream.next());
}

/// Cancelled publishes keep their confirm bookkeeping: every message is sent once, every
/// confirm is accounted for.
asio::awaitable<void> cancelled_publish_keeps_confirms(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel({.confirms = true});
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    constexpr int n = 100;
    int publish_wins = 0;
    for (int i = 0; i < n; ++i) {
        asio::steady_timer expired(w.io, std::chrono::steady_clock::time_point::min());
        auto r = co_await detail::race(ch.publish("", q.name, std::to_string(i)),
                                       expired.async_wait(asio::use_awaitable));
        if (r.index() == 0) ++publish_wins;
    }
    MESSAGE("publish won " << publish_wins << " of " << n << " races");
    CHECK(co_await ch.wait_for_confirms());
    CHECK(ch.unconfirmed() == 0);
    CHECK((co_await depth(ch, q.name)) == n);

    // A publish cancelled while waiting for window space sends nothing.
    auto win = co_await conn.open_channel({.confirms = true, .max_unconfirmed = 1});
    auto first = co_await win.start_publish("", q.name, "fills the window");
    asio::steady_timer expired(w.io, std::chrono::steady_clock::time_point::min());
    co_await detail::race(win.publish("", q.name, "maybe"),
                          expired.async_wait(asio::use_awaitable));
    co_await first.wait();
    CHECK(co_await win.wait_for_confirms());
    const auto count = co_await depth(win, q.name);
    CHECK((count == n + 1 || count == n + 2));
}

asio::awaitable<void> client_cancel_drains(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    for (int i = 0; i < 3; ++i) co_await ch.publish("", q.name, std::to_string(i));
    auto stream = co_await ch.consume(q.name, {.no_ack = true});
    co_await stream.cancel();
    int n = 0;
    while (auto d = co_await stream.next()) ++n;
    CHECK(n == 3);  // delivered before the cancel: still handed out
}

asio::awaitable<void> dropped_consumer_requeues(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    for (int i = 0; i < 4; ++i) co_await ch.publish("", q.name, std::to_string(i));
    {
        auto stream = co_await ch.consume(q.name);
        auto d = co_await stream.next();
        REQUIRE(d);
        co_await d->ack();
    }  // destroyed with deliveries buffered: they go back to the queue
    co_await depth(ch, q.name);
    auto again = co_await ch.consume(q.name, {.no_ack = true});
    for (int i = 1; i < 4; ++i) {
        auto d = co_await again.next();
        REQUIRE(d);
        CHECK(d->body() == std::to_string(i));
    }
}

asio::awaitable<void> consumer_tags(world& w) {
    // The client finds the consumer of a delivery by the number in its own generated tags
    // ("warren.ctag-<channel>.<n>") and by the whole string otherwise: tags of every shape,
    // including explicit ones that look generated, each get their own deliveries.
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    const auto id = std::to_string(ch.id());
    const std::vector<std::string> tags = {"",
                                           "mine",
                                           "warren.ctag-" + id + ".07",
                                           "warren.ctag-" + id + ".999",
                                           "warren.ctag-0" + id + ".3",
                                           "warren.ctag-" + id + ".",
                                           ""};
    std::vector<std::string> queues;
    std::vector<consumer> streams;
    for (const auto& tag : tags) {
        auto q = co_await ch.declare_queue("", {.exclusive = true});
        queues.push_back(q.name);
        streams.push_back(co_await ch.consume(q.name, {.no_ack = true}, {}, tag));
    }
    CHECK(streams[0].tag() == "warren.ctag-" + id + ".1");
    CHECK(streams[6].tag() == "warren.ctag-" + id + ".2");
    for (int round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < queues.size(); ++i) {
            if (round == 1 && i == 0) continue;  // cancelled below
            co_await ch.publish("", queues[i], "to " + std::to_string(i));
        }
        for (std::size_t i = 0; i < queues.size(); ++i) {
            if (round == 1 && i == 0) continue;
            auto d = co_await streams[i].next();
            REQUIRE(d);
            CHECK(d->body() == "to " + std::to_string(i));
            CHECK(d->consumer_tag() == streams[i].tag());
        }
        if (round == 0) co_await streams[0].cancel();  // the others must still be found
    }
    for (auto& s : streams) CHECK(s.buffered() == 0);
}

asio::awaitable<void> two_readers(world& w) {
    // Two next() calls waiting on one stream at once: one is parked, the other waits on the
    // stream's signal; each must get a delivery.
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    auto stream = co_await ch.consume(q.name, {.no_ack = true});
    int got = 0;
    int finished = 0;
    auto read_one = [&]() -> asio::awaitable<void> {
        if (auto d = co_await stream.next()) ++got;
    };
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 2; ++i) {
        asio::co_spawn(ex, read_one(), [&](std::exception_ptr) { ++finished; });
    }
    co_await w.sleep(20ms);  // both are waiting
    CHECK(finished == 0);
    co_await ch.publish("", q.name, "one");
    co_await ch.publish("", q.name, "two");
    for (int i = 0; i < 500 && finished < 2; ++i) co_await w.sleep(10ms);
    CHECK(finished == 2);
    CHECK(got == 2);
}

asio::awaitable<void> one_stream_many_queues(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto admin = co_await conn.open_channel();
    std::vector<std::string> queues;
    for (int i = 0; i < 3; ++i)
        queues.push_back((co_await admin.declare_queue("", {.exclusive = true})).name);
    co_await ch.set_prefetch(10);
    auto stream = co_await ch.consume_many(queues, {}, {}, "many");
    CHECK(stream.tag() == "many.0");
    CHECK(stream.tags() == std::vector<std::string>{"many.0", "many.1", "many.2"});
    for (int round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < queues.size(); ++i)
            co_await admin.publish("", queues[i], std::to_string(i));
    }
    std::vector<int> per_queue(queues.size());
    for (int n = 0; n < 6; ++n) {
        auto d = co_await stream.next();
        REQUIRE(d);
        CHECK(d->consumer_tag() == "many." + d->body());  // each delivery names its own consumer
        ++per_queue.at(std::stoul(d->body()));
        co_await d->ack();
    }
    CHECK(per_queue == std::vector<int>{2, 2, 2});

    // Deleting one queue ends its consumer only: the stream goes on with the others.
    co_await admin.delete_queue(queues[1]);
    co_await admin.publish("", queues[2], "2");
    auto d = co_await stream.next();
    REQUIRE(d);
    CHECK(d->body() == "2");
    co_await d->ack();
    for (int i = 0; i < 500 && stream.tags().size() != 2; ++i) co_await w.sleep(10ms);
    CHECK(stream.tags() == std::vector<std::string>{"many.0", "many.2"});

    // cancel() cancels every consumer of the stream; then next() ends.
    co_await stream.cancel();
    CHECK_FALSE(co_await stream.next());
    CHECK(stream.tags().empty());
    co_await admin.publish("", queues[2], "left");
    auto left = co_await admin.get(queues[2], {.no_ack = true});  // nobody consumes it now
    REQUIRE(left);
    CHECK(left->body() == "left");

    // A dropped stream's buffered deliveries go back to their queues.
    for (const auto& q : {queues[0], queues[2]}) co_await admin.publish("", q, q);
    {
        std::vector<std::string> two{queues[0], queues[2]};  // named: GCC 12, docs/client.md
        auto dropped = co_await ch.consume_many(two);
        CHECK(dropped.tags().size() == 2);
        for (int i = 0; i < 500 && dropped.buffered() != 2; ++i) co_await w.sleep(10ms);
        CHECK(dropped.buffered() == 2);
    }
    for (const auto& q : {queues[0], queues[2]}) {
        std::optional<delivery> back;
        for (int i = 0; i < 500 && !back; ++i) {
            back = co_await admin.get(q, {.no_ack = true});
            if (!back) co_await w.sleep(10ms);
        }
        REQUIRE(back);
        CHECK(back->body() == q);
        CHECK(back->redelivered());
    }

    // No queue is a usage error; a missing queue closes the channel with 404.
    bool refused = false;
    try {
        std::vector<std::string> none;
        (void)co_await ch.consume_many(none);
    } catch (const std::invalid_argument&) {
        refused = true;
    }
    CHECK(refused);
    int code = 0;
    try {
        std::vector<std::string> one_missing{queues[0], w.unique("no-such-queue")};
        (void)co_await ch.consume_many(one_missing);
    } catch (const channel_error& e) {
        code = e.code().value();
    }
    CHECK(code == 404);
}

struct set_on_destruction {
    bool& flag;
    ~set_on_destruction() { flag = true; }
};

asio::awaitable<void> wait_forever(world& w, bool& waiting, bool& destroyed) {
    set_on_destruction sentinel{destroyed};
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    auto stream = co_await ch.consume(q.name, {.no_ack = true});
    waiting = true;
    (void)co_await stream.next();  // nothing is ever published
    FAIL("next() returned");
}

}  // namespace

TEST_CASE("prefetch 1: a consumer holding an unacked message gets no more") {
    world w;
    w.run(prefetch_fairness(w));
}
TEST_CASE("try_next() takes a buffered delivery without waiting, or nothing") {
    world w;
    w.run(try_next_takes_only_buffered(w));
}
TEST_CASE("deleting a queue cancels its consumers: next() returns nullopt") {
    world w;
    w.run(server_cancel(w));
}
TEST_CASE("multiple acks, recover, reject") {
    world w;
    w.run(multiple_acks_and_recover(w));
}
TEST_CASE("publisher confirms: 500 in flight") {
    world w;
    w.run(many_confirms(w));
}
TEST_CASE("publisher confirms: a window of 8 unconfirmed") {
    world w;
    w.run(windowed_publisher(w));
}
TEST_CASE("mandatory returns go to next_return() or to the handler") {
    world w;
    w.run(mandatory_returns(w));
}
TEST_CASE("cancelled next() never loses a delivery") {
    world w;
    w.run(cancelled_next_loses_nothing(w));
}
TEST_CASE("cancelled publish() keeps its confirm bookkeeping") {
    world w;
    w.run(cancelled_publish_keeps_confirms(w));
}
TEST_CASE("client cancel: buffered deliveries are still handed out") {
    world w;
    w.run(client_cancel_drains(w));
}
TEST_CASE("consumer tags of every shape find their own consumer") {
    world w;
    w.run(consumer_tags(w));
}
TEST_CASE("two next() calls waiting on one stream each get a delivery") {
    world w;
    w.run(two_readers(w));
}
TEST_CASE("an io_context destroyed while next() waits destroys the waiting coroutine") {
    // A waiting next() is parked outside Asio's own operations: the io_context's shutdown must
    // still destroy it (else its coroutine, channel and connection leak).
    bool waiting = false;
    bool destroyed = false;
    {
        world w;
        asio::co_spawn(w.io, wait_forever(w, waiting, destroyed), asio::detached);
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (!waiting && std::chrono::steady_clock::now() < give_up) w.io.run_for(10ms);
        REQUIRE(waiting);
        w.io.run_for(100ms);  // next() parks
        CHECK_FALSE(destroyed);
    }
    CHECK(destroyed);
}
TEST_CASE("consume_many: one stream for several queues") {
    world w;
    w.run(one_stream_many_queues(w));
}
TEST_CASE("a dropped consumer's buffered deliveries are requeued") {
    world w;
    w.run(dropped_consumer_requeues(w));
}
