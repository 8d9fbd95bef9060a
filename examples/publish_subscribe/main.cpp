// RabbitMQ tutorial 3, "Publish/Subscribe": emit_log publishes to the fanout exchange "logs";
// every receive_logs gets its own server-named, exclusive queue bound to it, so each receiver
// gets every message. A fanout exchange drops messages when no queue is bound, so the receivers
// bind before anything is emitted.
// Self-check: both receivers got every message, in order.
// Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <vector>

namespace asio = boost::asio;

asio::awaitable<void> emit_log(warren::connection& conn, std::vector<std::string> messages) {
    auto ch = co_await conn.open_channel({.confirms = true});
    co_await ch.declare_exchange("logs", warren::exchange_type::fanout);
    for (const auto& message : messages) {
        co_await ch.publish("logs", "", message);
        std::cout << " [x] Sent " << message << '\n';
    }
}

/// receive_logs, first half: a fresh queue that lives as long as this connection.
asio::awaitable<warren::consumer> subscribe(warren::connection& conn) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_exchange("logs", warren::exchange_type::fanout);
    auto q = co_await ch.declare_queue("", {.exclusive = true});  // server-named
    co_await ch.bind_queue(q.name, "logs", "");
    std::cout << " [*] Waiting for logs on " << q.name << '\n';
    co_return co_await ch.consume(q.name, {.no_ack = true});
}

/// receive_logs, second half: prints what arrives; returns the first `n` messages.
asio::awaitable<std::vector<std::string>> receive_logs(warren::consumer& logs, std::string name,
                                                       std::size_t n) {
    std::vector<std::string> received;
    while (received.size() < n) {
        auto d = co_await logs.next();
        examples::expect(d.has_value(), "the subscription was not cancelled");
        std::cout << " [x] " << name << ": " << d->body() << '\n';
        received.push_back(d->body());
    }
    co_return received;
}

asio::awaitable<void> run(examples::app& app) {
    auto conn_1 = co_await app.connect();
    auto conn_2 = co_await app.connect();
    auto logs_1 = co_await subscribe(conn_1);
    auto logs_2 = co_await subscribe(conn_2);

    std::vector<std::string> messages{"info: Hello World!", "warning: disk 80% full",
                                      "error: disk full"};
    auto producer = co_await app.connect();
    co_await emit_log(producer, messages);

    examples::expect(co_await receive_logs(logs_1, "receiver 1", messages.size()) == messages,
                     "receiver 1 got every message in order");
    examples::expect(co_await receive_logs(logs_2, "receiver 2", messages.size()) == messages,
                     "receiver 2 got every message in order");
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
