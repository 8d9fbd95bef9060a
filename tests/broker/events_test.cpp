// The broker's events: raised into each connection's outbox while the broker works, handed to
// the client_sink by broker::flush_events() after the call. A sink may call into the broker from
// on_events; nothing re-enters a call in progress.
#include "ext_support.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <functional>

using namespace warren;
using namespace warren::test;

namespace {

/// A sink that runs `react` for every event, and checks it is never called inside a broker call.
struct probe_sink final : broker::client_sink {
    bool* in_call = nullptr;  // set by the test around its broker calls
    int depth = 0, max_depth = 0;
    bool called_inside = false;
    std::vector<std::string> seen;  // event kinds, in order
    std::function<void(broker::event&)> react;

    void on_events(std::span<broker::event> events) override {
        if (in_call && *in_call) called_inside = true;
        max_depth = std::max(max_depth, ++depth);
        for (auto& e : events) {
            seen.push_back(std::visit(
                [](const auto& ev) -> std::string {
                    using E = std::decay_t<decltype(ev)>;
                    if constexpr (std::is_same_v<E, broker::events::delivery>)
                        return "deliver " + ev.msg->body;
                    if constexpr (std::is_same_v<E, broker::events::confirm>)
                        return "confirm " + std::to_string(ev.delivery_tag);
                    if constexpr (std::is_same_v<E, broker::events::returned>)
                        return "return " + ev.msg->body;
                    if constexpr (std::is_same_v<E, broker::events::consumer_cancelled>)
                        return "cancel " + ev.consumer_tag;
                    if constexpr (std::is_same_v<E, broker::events::channel_closed>)
                        return "closed " + std::to_string(ev.channel);
                    return "commit";
                },
                e));
            if (react) react(e);
        }
        --depth;
    }
    bool writable(std::size_t) const noexcept override { return true; }
};

struct probe_client {
    probe_sink sink;
    broker::connection conn;
    explicit probe_client(broker::broker& b) : conn(*b.find_vhost("/"), sink, "guest", "probe") {}
    broker::channel& channel(std::uint16_t id = 1) {
        if (auto* ch = conn.find_channel(id)) return *ch;
        return *conn.open_channel(id);
    }
};

}  // namespace

TEST_CASE("the broker never calls a sink inside a call: events wait for flush_events, in order") {
    broker::broker b;
    bool in_call = false;
    probe_client publisher(b), consumer(b);
    publisher.sink.in_call = consumer.sink.in_call = &in_call;
    auto& pch = publisher.channel();
    auto& cch = consumer.channel();
    in_call = true;
    declare(pch, "q");
    consume(cch, "q", true, "ctag");
    REQUIRE(pch.confirm_select());
    REQUIRE(publish(pch, "", "q", "one"));
    REQUIRE(publish(pch, "", "nowhere", "lost", true));
    protocol::queue_delete del;
    del.queue = "q";
    REQUIRE(pch.queue_delete(del));
    in_call = false;
    CHECK(publisher.sink.seen.empty());
    CHECK(consumer.sink.seen.empty());
    b.flush_events();
    CHECK_FALSE(publisher.sink.called_inside);
    CHECK_FALSE(consumer.sink.called_inside);
    CHECK(publisher.sink.seen == std::vector<std::string>{"confirm 1", "return lost", "confirm 2"});
    CHECK(consumer.sink.seen == std::vector<std::string>{"deliver one", "cancel ctag"});
}

TEST_CASE("a sink that acks each delivery from on_events drains a queue without recursion") {
    broker::broker b;
    probe_client c(b);
    auto& ch = c.channel();
    declare(ch, "q");
    qos(ch, 1);
    consume(ch, "q", false, "c");
    std::size_t most_unacked = 0;
    c.sink.react = [&](broker::event& e) {
        if (auto* d = std::get_if<broker::events::delivery>(&e)) {
            most_unacked = std::max(most_unacked, ch.unacked_count());
            REQUIRE(ch.ack(d->delivery_tag, false));  // delivers the next one: handed out later
            b.flush_events();                         // inside a sink: does nothing
        }
    };
    for (int i = 0; i < 1000; ++i) REQUIRE(publish(ch, "", "q", "m" + std::to_string(i)));
    b.flush_events();
    CHECK(c.sink.seen.size() == 1000);
    CHECK(c.sink.seen.back() == "deliver m999");
    CHECK(c.sink.max_depth == 1);
    CHECK(most_unacked == 1);
    CHECK(ch.unacked_count() == 0);
}

TEST_CASE("dead letters are routed after the call that dropped them: a cycle of full queues ends") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    // Each queue holds one message and drops its head into the other one.
    REQUIRE(declare_args(ch, "left",
                         args({{"x-max-length", std::int32_t{1}},
                               {"x-dead-letter-exchange", ""},
                               {"x-dead-letter-routing-key", "right"}})));
    REQUIRE(declare_args(ch, "right",
                         args({{"x-max-length", std::int32_t{1}},
                               {"x-dead-letter-exchange", ""},
                               {"x-dead-letter-routing-key", "left"}})));
    auto& vh = *tb.b.find_vhost("/");
    REQUIRE(publish(ch, "", "left", "a"));
    REQUIRE(publish(ch, "", "left", "b"));  // drops "a": not routed yet
    CHECK(vh.find_queue("right")->ready_count() == 0);
    tb.b.flush_events();  // "a" goes right
    CHECK(vh.find_queue("right")->ready_count() == 1);
    REQUIRE(publish(ch, "", "right", "c"));  // drops "a" again, into left, which drops "b" ...
    tb.b.flush_events();                     // ... until the x-death history stops the cycle
    CHECK(vh.find_queue("left")->ready_count() == 1);
    CHECK(vh.find_queue("right")->ready_count() == 1);
}

TEST_CASE("a channel that times out closes itself and stays until its connection releases it") {
    timed_broker tb(std::chrono::milliseconds(100));
    probe_client c(tb.b);
    auto& ch = c.channel(2);
    declare(ch, "q");
    REQUIRE(publish(ch, "", "q", "a"));
    consume(ch, "q", false, "c");
    tb.advance(100);
    REQUIRE(c.sink.seen == std::vector<std::string>{"deliver a", "closed 2"});
    CHECK(c.conn.find_channel(2) == &ch);  // closed, not destroyed
    CHECK(ch.consumer_count() == 0);
    CHECK(ch.unacked_count() == 0);
    CHECK(tb.count("q") == 1);  // requeued at once
    c.conn.close_channel(2);
    CHECK(c.conn.find_channel(2) == nullptr);
}
