#pragma once
// A client_sink that records every broker event, for driving the broker core directly.

#include <warren/broker/broker.hpp>
#include <warren/broker/connection.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace doctest {
template <class T>
struct StringMaker<boost::system::result<T, warren::broker::amqp_error>> {
    static String convert(const boost::system::result<T, warren::broker::amqp_error>& r) {
        return r ? String("ok") : String(r.error().text.c_str());
    }
};
}  // namespace doctest

namespace warren::test {

struct delivery_event {
    std::uint16_t channel;
    std::string consumer_tag;
    std::uint64_t delivery_tag;
    bool redelivered;
    std::string body;
    std::string exchange;
    std::string routing_key;
    protocol::basic_properties properties;
};

struct fake_sink final : broker::client_sink {
    std::vector<delivery_event> deliveries;
    std::vector<std::string> cancelled;
    std::vector<std::string> returned;  // bodies
    std::vector<std::pair<std::uint64_t, bool>> confirms;  // tag, ack
    bool can_write = true;
    /// The buffer fills after this many deliveries in all (a socket that fills mid-dispatch).
    std::size_t write_budget = static_cast<std::size_t>(-1);

    void on_deliver_shared(broker::channel& ch, const broker::consumer& c, std::uint64_t tag,
                           bool redelivered, const broker::message_ptr& mp) override {
        const auto& m = *mp;
        deliveries.push_back({ch.id(), c.tag, tag, redelivered, m.body, m.exchange, m.routing_key, m.properties});
    }
    void on_consumer_cancelled(broker::channel&, const std::string& tag) override {
        cancelled.push_back(tag);
    }
    void on_return(broker::channel&, protocol::reply_code, std::string_view, const broker::message& m) override {
        returned.push_back(m.body);
    }
    void on_confirm(broker::channel&, std::uint64_t tag, bool, bool ack) override {
        confirms.emplace_back(tag, ack);
    }
    bool writable() const noexcept override { return can_write && deliveries.size() < write_budget; }
    /// Channel errors raised by the broker itself (consumer_timeout): (channel, text). The
    /// channel is closed as a session would.
    std::vector<std::pair<std::uint16_t, std::string>> channel_errors;
    void on_channel_error(broker::channel& ch, protocol::reply_code, std::string_view text) override {
        channel_errors.emplace_back(ch.id(), std::string(text));
        ch.owner().close_channel(ch.id());
    }

    std::vector<std::string> bodies() const {
        std::vector<std::string> out;
        for (const auto& d : deliveries) out.push_back(d.body);
        return out;
    }
};

/// A broker connection plus its sink.
struct client {
    fake_sink sink;
    broker::connection conn;
    explicit client(broker::broker& b, std::string name = "test")
        : conn(*b.find_vhost("/"), sink, "guest", std::move(name)) {}
    broker::channel& channel(std::uint16_t id = 1) {
        if (auto* ch = conn.find_channel(id)) return *ch;
        return *conn.open_channel(id);
    }
};

inline std::shared_ptr<broker::message> make_message(std::string body, protocol::basic_properties props = {}) {
    auto m = std::make_shared<broker::message>();
    m->body = std::move(body);
    m->properties = std::move(props);
    return m;
}

inline broker::result<void> publish(broker::channel& ch, std::string exchange, std::string key,
                                    std::string body, bool mandatory = false,
                                    protocol::basic_properties props = {}) {
    protocol::basic_publish p;
    p.exchange = exchange;
    p.routing_key = key;
    p.mandatory = mandatory;
    auto msg = make_message(std::move(body), std::move(props));
    msg->exchange = std::move(exchange);
    msg->routing_key = std::move(key);
    return ch.publish(p, std::move(msg));
}

inline std::string declare(broker::channel& ch, std::string name, bool exclusive = false,
                           bool auto_delete = false) {
    protocol::queue_declare d;
    d.queue = std::move(name);
    d.exclusive = exclusive;
    d.auto_delete = auto_delete;
    return ch.queue_declare(d).value().queue;
}

inline std::string consume(broker::channel& ch, std::string queue, bool no_ack = false,
                           std::string tag = {}) {
    protocol::basic_consume c;
    c.queue = std::move(queue);
    c.no_ack = no_ack;
    c.consumer_tag = std::move(tag);
    auto t = ch.consume(c).value();
    ch.start_consumer(t);
    return t;
}

inline void qos(broker::channel& ch, std::uint16_t count, bool global = false) {
    protocol::basic_qos q;
    q.prefetch_count = count;
    q.global = global;
    REQUIRE(ch.qos(q));
}

}  // namespace warren::test
