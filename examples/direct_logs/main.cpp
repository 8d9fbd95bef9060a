// The seed's direct_logs sender and receiver (tests/interop/seed_*.py in C++): the receiver
// binds an exclusive, durable, server-named queue to the "direct_logs" exchange for one
// severity, takes one message at a time (prefetch 1) and acks each; the sender publishes
// persistent messages. Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <vector>

namespace asio = boost::asio;

struct log_line {
    std::string severity;
    std::string message;
};

asio::awaitable<void> sender(warren::connection& conn, std::vector<log_line> lines) {
    auto ch = co_await conn.open_channel({.confirms = true});
    co_await ch.declare_exchange("direct_logs", warren::exchange_type::direct);
    for (const auto& line : lines) {
        co_await ch.publish("direct_logs", line.severity, line.message, {.persistent = true});
        std::cout << " [x] Sent " << line.severity << ": " << line.message << '\n';
    }
}

/// Declares and binds the receiver's queue; returns its message stream.
asio::awaitable<warren::consumer> receiver(warren::channel& ch, std::string severity) {
    co_await ch.declare_exchange("direct_logs", warren::exchange_type::direct);
    auto q = co_await ch.declare_queue("", {.durable = true, .exclusive = true});
    co_await ch.bind_queue(q.name, "direct_logs", severity);
    co_await ch.set_prefetch(1);  // fair dispatch: one unacked message at a time
    co_return co_await ch.consume(q.name);
}

asio::awaitable<void> run(examples::app& app) {
    auto receiver_conn = co_await app.connect();
    auto ch = co_await receiver_conn.open_channel();
    auto errors = co_await receiver(ch, "error");

    auto sender_conn = co_await app.connect();
    std::vector<log_line> lines{{"info", "service started"},
                                {"error", "disk full"},
                                {"warning", "low memory"},
                                {"error", "disk still full"}};
    co_await sender(sender_conn, std::move(lines));

    // Only the two "error" lines reach the receiver, in the order they were sent.
    for (const char* expected : {"disk full", "disk still full"}) {
        auto d = co_await errors.next();
        examples::expect(d.has_value(), "the receiver got a message");
        std::cout << " [x] Received " << d->routing_key() << ": " << d->body() << '\n';
        examples::expect(d->routing_key() == "error" && d->body() == expected,
                         "the receiver got exactly the error lines, in order");
        co_await d->ack();
    }
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
