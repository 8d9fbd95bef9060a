#pragma once
// Helpers for the extension tests (TTL, dead-lettering, length limits, consumer_timeout): a
// broker whose clock the test drives, and declare/publish with arguments and properties.

#include "fake_sink.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/vhost.hpp>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <utility>

namespace warren::test {

/// A broker on a manual clock: advance() moves time and runs broker::tick.
struct timed_broker {
    broker::time_point now{std::chrono::hours(1000)};
    std::int64_t wall = 1764000000000;         // ms
    broker::time_point woken = broker::never;  // last wake-up request
    broker::broker b;

    explicit timed_broker(std::chrono::milliseconds consumer_timeout = std::chrono::milliseconds(0))
        : b(broker::broker_options{.consumer_timeout = consumer_timeout,
                                   .clock = [this] { return now; },
                                   .wall_clock_ms = [this] { return wall; }}) {
        b.set_wakeup([this](broker::time_point t) { woken = t; });
    }
    /// Moves the clocks by `ms` and ticks (then hands out what that raised, as the server's
    /// timer does); returns the next deadline.
    broker::time_point advance(std::int64_t ms) {
        now += std::chrono::milliseconds(ms);
        wall += ms;
        const auto next = b.tick(now);
        b.flush_events();
        return next;
    }
    /// The queue, after the broker has handed out what is pending (dead letters are routed then).
    std::shared_ptr<broker::queue> queue(std::string_view name) {
        b.flush_events();
        return b.find_vhost("/")->find_queue(name);
    }
    std::size_t count(std::string_view name) {
        auto q = queue(name);
        return q ? q->ready_count() : 0;
    }
};

inline broker::result<protocol::queue_declare_ok> declare_args(broker::channel& ch,
                                                               std::string name,
                                                               protocol::field_table args,
                                                               bool durable = false) {
    protocol::queue_declare d;
    d.queue = std::move(name);
    d.durable = durable;
    d.arguments = std::move(args);
    return ch.queue_declare(d);
}

inline protocol::basic_properties expiring(std::string expiration) {
    protocol::basic_properties p;
    p.expiration = std::move(expiration);
    return p;
}

inline std::optional<std::string> get_body(broker::channel& ch, std::string queue,
                                           bool no_ack = true) {
    protocol::basic_get g;
    g.queue = std::move(queue);
    g.no_ack = no_ack;
    auto r = ch.get(g);
    ch.owner().host().owner().flush_events();  // what the get left behind (expired dead letters)
    REQUIRE(r);
    if (!*r) return std::nullopt;
    return (*r)->msg->body;
}

inline std::string bind_queue(broker::channel& ch, std::string queue, std::string exchange,
                              std::string key) {
    protocol::queue_bind b;
    b.queue = queue;
    b.exchange = std::move(exchange);
    b.routing_key = std::move(key);
    REQUIRE(ch.queue_bind(b));
    return queue;
}

/// A field table from name/value pairs, in order (queue arguments in tests).
inline protocol::field_table args(
    std::initializer_list<std::pair<const char*, protocol::field_value>> kv) {
    protocol::field_table t;
    for (const auto& [k, v] : kv) t.add(k, v);
    return t;
}

}  // namespace warren::test
