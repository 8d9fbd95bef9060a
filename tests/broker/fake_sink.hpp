#pragma once
// A client_sink that records every broker event, for driving the broker core directly.

#include <warren/broker/broker.hpp>
#include <warren/broker/connection.hpp>

#include <doctest/doctest.h>
#include <span>
#include <string>
#include <variant>
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

/// Events a fake_sink recorded, read like a vector. The broker raises events while it works and
/// hands them out after its call (broker::flush_events, which a server session calls after each
/// frame): reading the record first has the broker hand out what is pending, as a session would.
template <class T>
class recorded {
  public:
    explicit recorded(broker::broker* const& brk) : brk_(brk) {}
    std::vector<T>& get() const {
        if (brk_) brk_->flush_events();
        return items_;
    }
    std::size_t size() const { return get().size(); }
    bool empty() const { return get().empty(); }
    T& operator[](std::size_t i) const { return get()[i]; }
    T& at(std::size_t i) const { return get().at(i); }
    T& front() const { return get().front(); }
    T& back() const { return get().back(); }
    auto begin() const { return get().begin(); }
    auto end() const { return get().end(); }
    auto rbegin() const { return get().rbegin(); }
    auto rend() const { return get().rend(); }
    void clear() { get().clear(); }
    bool operator==(const std::vector<T>& v) const { return get() == v; }
    /// Without flushing (for the sink itself).
    std::vector<T>& raw() const { return items_; }

  private:
    broker::broker* const& brk_;
    mutable std::vector<T> items_;
};

struct fake_sink final : broker::client_sink {
    broker::broker* brk = nullptr;       // set by `client`: records are read flushed
    broker::connection* conn = nullptr;  // set by `client`: channel_closed releases the channel
    recorded<delivery_event> deliveries{brk};
    recorded<std::string> cancelled{brk};
    recorded<std::string> returned{brk};                     // bodies
    recorded<std::pair<std::uint64_t, bool>> confirms{brk};  // tag, ack
    /// Channels the broker closed itself (consumer_timeout): (channel, text). The channel is
    /// released as a session would.
    recorded<std::pair<std::uint16_t, std::string>> channel_errors{brk};
    recorded<std::uint16_t> tx_commits{brk};  // channels whose tx.commit completed
    bool can_write = true;
    /// The buffer fills after this many deliveries in all (a socket that fills mid-dispatch).
    std::size_t write_budget = static_cast<std::size_t>(-1);

    void on_events(std::span<broker::event> events) override {
        for (auto& e : events) std::visit([this](auto& ev) { record(ev); }, e);
    }
    bool writable(std::size_t) const noexcept override {
        const std::size_t queued = conn ? conn->queued_events() : 0;
        return can_write && deliveries_count() + queued < write_budget;
    }

    std::vector<std::string> bodies() const {
        std::vector<std::string> out;
        for (const auto& d : deliveries) out.push_back(d.body);
        return out;
    }

  private:
    std::size_t deliveries_count() const noexcept { return deliveries.raw().size(); }
    void record(broker::events::delivery& e) {
        const auto& m = *e.msg;
        deliveries.raw().push_back({e.channel, e.c->tag, e.delivery_tag, e.redelivered, m.body,
                                    m.exchange, m.routing_key, m.properties});
    }
    void record(broker::events::consumer_cancelled& e) {
        cancelled.raw().push_back(e.consumer_tag);
    }
    void record(broker::events::returned& e) { returned.raw().push_back(e.msg->body); }
    void record(broker::events::confirm& e) { confirms.raw().emplace_back(e.delivery_tag, e.ack); }
    void record(broker::events::channel_closed& e) {
        channel_errors.raw().emplace_back(e.channel, e.text);
        if (conn) conn->close_channel(e.channel);
    }
    void record(broker::events::tx_committed& e) { tx_commits.raw().push_back(e.channel); }
};

/// A broker connection plus its sink.
struct client {
    fake_sink sink;
    broker::connection conn;
    explicit client(broker::broker& b, std::string name = "test")
        : conn(*b.find_vhost("/"), sink, "guest", std::move(name)) {
        sink.brk = &b;
        sink.conn = &conn;
    }
    broker::channel& channel(std::uint16_t id = 1) {
        if (auto* ch = conn.find_channel(id)) return *ch;
        return *conn.open_channel(id);
    }
};

inline std::shared_ptr<broker::message> make_message(std::string body,
                                                     protocol::basic_properties props = {}) {
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
