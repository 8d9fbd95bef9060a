// An application of an installed Warren (tests/install): starts the embedded broker, publishes
// one message and has a warren::worker handle it. Exit 0 when "hello" was handled.
#include <warren/embedded.hpp>
#include <warren/service/worker.hpp>
#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

asio::awaitable<void> handle(std::string& got, warren::worker& w, warren::message_context& m) {
    got = m.body();
    w.stop();
    co_return;
}

asio::awaitable<void> round_trip(asio::io_context& io, std::string& got) {
    auto conn = co_await warren::connect(io, "embedded://");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("q");
    co_await ch.publish("", "q", "hello");
    warren::worker_options o;
    o.queues = {"q"};
    warren::worker w{conn, o};
    co_await w.run([&got, &w](warren::message_context& m) { return handle(got, w, m); });
    co_await conn.close();
}

int main() {
    asio::io_context io;
    warren::embedded_broker broker{io};
    std::string got;
    std::exception_ptr error;
    asio::co_spawn(io, round_trip(io, got), [&](std::exception_ptr e) {
        error = e;
        io.stop();
    });
    io.run();
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
    std::cout << "handled: " << got << '\n';
    return got == "hello" ? 0 : 1;
}
