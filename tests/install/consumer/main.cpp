// An application of an installed Warren (tests/install): starts the embedded broker, publishes
// one message and consumes it. Exit 0 when "hello" came back.
#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

asio::awaitable<std::string> round_trip(warren::embedded_broker& broker) {
    auto conn = co_await warren::connect(broker);
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue({.name = "q"});
    co_await ch.publish("", "q", "hello");
    auto c = co_await ch.consume("q");
    auto d = co_await c.next();
    if (!d) co_return "(no delivery)";
    co_await d->ack();
    co_return d->body();
}

int main() {
    asio::io_context io;
    warren::embedded_broker broker{io};
    std::string body;
    std::exception_ptr error;
    asio::co_spawn(io, round_trip(broker), [&](std::exception_ptr e, std::string b) {
        error = e;
        body = std::move(b);
        io.stop();
    });
    io.run();
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
    std::cout << "received: " << body << '\n';
    return body == "hello" ? 0 : 1;
}
