// RabbitMQ tutorial 4, "Routing": emit_log_direct publishes each log line to the direct
// exchange "direct_logs" with its severity as routing key; receive_logs_direct binds its
// server-named queue once per severity it wants. Here one receiver takes only "error" (the
// tutorial's "save errors to disk") and another takes "info", "warning" and "error" (the console).
// (examples/direct_logs is the seed's sender/receiver variant: durable queue, manual acks.)
// Self-check: each receiver got exactly its severities, in order. The last line is an error,
// which both receive, so a line routed to the wrong queue would show up before it.
// Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace asio = boost::asio;

using log_line = std::pair<std::string, std::string>;  // severity, message

asio::awaitable<void> emit_log_direct(warren::connection& conn, std::vector<log_line> lines) {
    auto ch = co_await conn.open_channel({.confirms = true});
    co_await ch.declare_exchange("direct_logs", warren::exchange_type::direct);
    for (const auto& [severity, message] : lines) {
        co_await ch.publish("direct_logs", severity, message);
        std::cout << " [x] Sent " << severity << ": " << message << '\n';
    }
}

/// receive_logs_direct, first half: one queue, one binding per severity.
asio::awaitable<warren::consumer> subscribe(warren::connection& conn,
                                            std::vector<std::string> severities) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_exchange("direct_logs", warren::exchange_type::direct);
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    for (const auto& severity : severities) co_await ch.bind_queue(q.name, "direct_logs", severity);
    co_return co_await ch.consume(q.name, {.no_ack = true});
}

/// receive_logs_direct, second half: the first `n` lines that arrive.
asio::awaitable<std::vector<log_line>> receive_logs_direct(warren::consumer& logs, std::string name,
                                                           std::size_t n) {
    std::vector<log_line> received;
    while (received.size() < n) {
        auto d = co_await logs.next();
        examples::expect(d.has_value(), "the subscription was not cancelled");
        std::cout << " [x] " << name << " " << d->routing_key() << ": " << d->body() << '\n';
        received.emplace_back(d->routing_key(), d->body());
    }
    co_return received;
}

/// The lines whose severity is one of `severities`, in order.
std::vector<log_line> only(const std::vector<log_line>& lines,
                           const std::vector<std::string>& severities) {
    std::vector<log_line> out;
    std::copy_if(lines.begin(), lines.end(), std::back_inserter(out), [&](const log_line& l) {
        return std::find(severities.begin(), severities.end(), l.first) != severities.end();
    });
    return out;
}

asio::awaitable<void> run(examples::app& app) {
    const std::vector<std::string> disk{"error"}, console{"info", "warning", "error"};
    auto conn_1 = co_await app.connect();
    auto conn_2 = co_await app.connect();
    auto to_disk = co_await subscribe(conn_1, disk);
    auto to_console = co_await subscribe(conn_2, console);

    std::vector<log_line> lines{{"info", "service started"}, {"error", "disk full"},
                                {"debug", "cache miss"},     {"warning", "low memory"},
                                {"info", "request served"},  {"error", "disk still full"}};
    auto producer = co_await app.connect();
    co_await emit_log_direct(producer, lines);

    const auto want_disk = only(lines, disk), want_console = only(lines, console);
    examples::expect(co_await receive_logs_direct(to_disk, "disk", want_disk.size()) == want_disk,
                     "the 'error' receiver got exactly the errors");
    examples::expect(
        co_await receive_logs_direct(to_console, "console", want_console.size()) == want_console,
        "the console receiver got info, warning and error, not debug");
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
