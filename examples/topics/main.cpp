// RabbitMQ tutorial 5, "Topics": emit_log_topic publishes with routing keys "<facility>.<severity>"
// to the topic exchange "topic_logs"; each receive_logs_topic binds its queue with patterns where
// `*` matches exactly one word and `#` zero or more words.
// Self-check: each receiver got exactly the keys its patterns match, in order (written out
// below), and a message matching two patterns of one queue arrives there once. The last key,
// "kern.critical", matches every receiver, so a wrongly routed message would show up before it.
// Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <vector>

namespace asio = boost::asio;

asio::awaitable<void> emit_log_topic(warren::connection& conn, std::vector<std::string> keys) {
    auto ch = co_await conn.open_channel({.confirms = true});
    co_await ch.declare_exchange("topic_logs", warren::exchange_type::topic);
    for (const auto& key : keys) {
        co_await ch.publish("topic_logs", key, "message for " + key);
        std::cout << " [x] Sent " << key << '\n';
    }
}

struct receiver {
    std::vector<std::string> patterns;
    std::vector<std::string> expected_keys;
    std::optional<warren::consumer> logs{};
};

/// receive_logs_topic, first half: one queue, one binding per pattern.
asio::awaitable<void> subscribe(warren::connection& conn, receiver& r) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_exchange("topic_logs", warren::exchange_type::topic);
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    for (const auto& pattern : r.patterns) co_await ch.bind_queue(q.name, "topic_logs", pattern);
    r.logs = co_await ch.consume(q.name, {.no_ack = true});
}

/// receive_logs_topic, second half: checks the keys of what arrives.
asio::awaitable<void> receive_logs_topic(receiver& r) {
    std::string name;
    for (const auto& p : r.patterns) name += (name.empty() ? "" : " + ") + p;
    for (const auto& expected : r.expected_keys) {
        auto d = co_await r.logs->next();
        examples::expect(d.has_value(), "the subscription was not cancelled");
        std::cout << " [x] " << name << " got " << d->routing_key() << ": " << d->body() << '\n';
        examples::expect(d->routing_key() == expected && d->body() == "message for " + expected,
                         "'" + name + "' expected " + expected + ", got " + d->routing_key());
    }
}

asio::awaitable<void> run(examples::app& app) {
    const std::vector<std::string> keys{"kern.info", "cron.critical", "auth.warning",
                                        "kern.warning.disk", "kern.critical"};
    receiver receivers[]{
        {{"#"}, keys},
        {{"kern.*"}, {"kern.info", "kern.critical"}},
        {{"*.critical"}, {"cron.critical", "kern.critical"}},
        {{"kern.*", "*.critical"}, {"kern.info", "cron.critical", "kern.critical"}},
        {{"kern.#"}, {"kern.info", "kern.warning.disk", "kern.critical"}},
    };
    std::vector<warren::connection> connections;  // one per receiver, open until the end
    for (auto& r : receivers) {
        connections.push_back(co_await app.connect());
        co_await subscribe(connections.back(), r);
    }
    auto producer = co_await app.connect();
    co_await emit_log_topic(producer, keys);
    for (auto& r : receivers) co_await receive_logs_topic(r);
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
