// An RPC server on warren::rpc_server: answers fib(n).
//
//   example_rpc_server [--uri U] [--queue rpc.fib] [--concurrency 8]
//
// Declares its request queue as RabbitMQ's tutorial does (not durable, not exclusive, not
// auto-delete). A request body "<n>" is answered with fib(n) in decimal (fib(0) = 0,
// fib(1) = 1); a body that is not a number (or n > 93) gets an error reply: header x-error with
// the message. Every reply carries the request's correlation_id.
//
// Without --uri: an embedded broker, a few calls through warren::rpc_client (good and bad),
// checked. With --uri: serves until SIGINT/SIGTERM, drains, exits 0.
#include "../common/fib.hpp"
#include "../common/service_example.hpp"

#include <warren/service/rpc.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <charconv>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<std::string> answer(warren::message_context& m) {
    const auto& body = m.body();
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), n);
    if (body.empty() || ec != std::errc{} || p != body.data() + body.size()) {
        throw std::invalid_argument("not a number: '" + body.substr(0, 64) + "'");
    }
    const auto f = examples::fib(n);
    if (!f) throw std::out_of_range("fib(" + body + ") does not fit 64 bits (n <= 93)");
    co_return std::to_string(*f);
}

warren::rpc_server_options server_settings(const examples::options& o) {
    warren::rpc_server_options s;
    s.queue = o.text("queue");
    s.concurrency =
        static_cast<std::uint16_t>(std::clamp<std::uint64_t>(o.number("concurrency"), 1, 65535));
    return s;
}

asio::awaitable<void> serve(examples::broker_choice& broker, warren::graceful_shutdown& shutdown,
                            warren::rpc_server_options s) {
    auto conn = co_await broker.connect();
    warren::rpc_server server{conn, s};
    shutdown.add(server);
    std::cout << " [x] Awaiting RPC requests on '" << s.queue << "'" << std::endl;
    co_await server.run(answer);
    const auto st = server.stats();
    std::cout << " [*] stopped after " << st.succeeded << " requests" << std::endl;
    co_await conn.close();
}

asio::awaitable<void> self_check(examples::broker_choice& broker, warren::rpc_server_options s) {
    auto server_conn = co_await broker.connect();
    auto client_conn = co_await broker.connect();
    warren::rpc_server server{server_conn, s};
    auto calls = [](warren::connection& conn, std::string queue,
                    warren::rpc_server& srv) -> asio::awaitable<void> {
        struct stop_at_end {
            warren::rpc_server& s;
            ~stop_at_end() { s.stop(); }
        } guard{srv};
        auto rpc = co_await warren::rpc_client::open(conn);
        for (int n : {0, 1, 2, 10, 30, 93}) {
            auto reply = co_await rpc.call(queue, std::to_string(n), {}, 5s);
            std::cout << " [.] fib(" << n << ") = " << reply.body() << std::endl;
            examples::check(
                reply.body() == std::to_string(*examples::fib(static_cast<std::uint64_t>(n))),
                "fib(" + std::to_string(n) + ")");
        }
        for (const char* bad : {"seven", "94", ""}) {
            try {
                co_await rpc.call(queue, bad, {}, 5s);
                examples::check(false, std::string("an error reply to '") + bad + "'");
            } catch (const warren::rpc_error& e) {
                examples::check(e.why() == warren::rpc_error::reason::remote, "a remote error");
                std::cout << " [.] '" << bad << "' -> error: " << e.what() << std::endl;
            }
        }
    };
    using namespace boost::asio::experimental::awaitable_operators;
    co_await (server.run(answer) && calls(client_conn, s.queue, server));
    std::cout << " [=] " << server.stats().succeeded << " requests answered" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
    return examples::main_with(
        argc, argv, {{"queue", "rpc.fib"}, {"concurrency", "8"}}, {},
        "usage: example_rpc_server [--uri U]... [--queue rpc.fib] [--concurrency 8]",
        [](const examples::options& o) {
            auto s = server_settings(o);
            asio::io_context io;
            examples::broker_choice broker{io, o};
            warren::graceful_shutdown shutdown{io};
            if (o.serving()) return examples::run(io, serve(broker, shutdown, s));
            shutdown.on_shutdown([&io] { io.stop(); });
            return examples::run(io, self_check(broker, s));
        });
}
