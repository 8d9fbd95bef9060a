// An RPC client on warren::rpc_client: many concurrent calls on one connection.
//
//   example_rpc_client [--uri U] [--queue rpc.fib] [--calls 1000] [--concurrency 100] [--timeout-ms
//   2000]
//
// Call i asks for fib(i % 30); `concurrency` calls are in flight at once on one connection.
// Every answer is checked. Prints one line on stdout:
//   calls=N ok=K errors=E timeouts=T p50_us=X p99_us=Y
// and exits 0 only if every call succeeded. Without --uri it runs an embedded broker with an
// RPC server of its own; with --uri it calls a server (example_rpc_server) through that broker.
#include "../common/fib.hpp"
#include "../common/service_example.hpp"

#include <warren/service/rpc.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cstdio>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct settings {
    std::string queue;
    std::size_t calls = 1000;
    std::size_t concurrency = 100;
    std::chrono::milliseconds timeout{2000};
};

struct tally {
    std::size_t next = 0;  // the next call to make
    std::size_t ok = 0, errors = 0, timeouts = 0;
    std::vector<std::int64_t> latencies_us;
};

asio::awaitable<void> caller(warren::rpc_client& rpc, const settings& s, tally& t) {
    while (t.next < s.calls) {
        const auto i = t.next++;
        const auto n = i % 30;
        const auto started = std::chrono::steady_clock::now();
        try {
            auto reply = co_await rpc.call(s.queue, std::to_string(n), {}, s.timeout);
            t.latencies_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count());
            if (reply.body() == std::to_string(*examples::fib(n))) {
                ++t.ok;
            } else {
                ++t.errors;
                std::cerr << "call " << i << ": fib(" << n << ") answered '" << reply.body()
                          << "'\n";
            }
        } catch (const warren::timeout_error&) {
            ++t.timeouts;
        } catch (const std::exception& e) {
            ++t.errors;
            std::cerr << "call " << i << ": " << e.what() << '\n';
        }
    }
}

std::int64_t percentile(std::vector<std::int64_t> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto idx = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

asio::awaitable<void> calls(warren::connection& conn, settings s) {
    {
        // Declared as the server declares it (RabbitMQ's tutorial: plain), so that requests
        // sent before the server is up wait for it instead of coming back unroutable.
        auto ch = co_await conn.open_channel();
        co_await ch.declare_queue(s.queue);
        co_await ch.close();
    }
    auto rpc = co_await warren::rpc_client::open(conn);
    tally t;
    // `concurrency` callers share one rpc_client (one channel); each makes calls in turn.
    std::vector<asio::awaitable<void>> callers;
    auto ex = co_await asio::this_coro::executor;
    std::size_t running = std::min(s.concurrency, s.calls);
    examples::asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
    for (std::size_t c = 0; c < std::min(s.concurrency, s.calls); ++c) {
        asio::co_spawn(ex, caller(rpc, s, t), [&running, &all_done](std::exception_ptr) {
            if (--running == 0) all_done.cancel();
        });
    }
    if (running != 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    std::printf("calls=%zu ok=%zu errors=%zu timeouts=%zu p50_us=%lld p99_us=%lld\n", s.calls, t.ok,
                t.errors, t.timeouts, static_cast<long long>(percentile(t.latencies_us, 0.50)),
                static_cast<long long>(percentile(t.latencies_us, 0.99)));
    std::fflush(stdout);
    co_await rpc.close();
    if (t.ok != s.calls)
        throw examples::check_failed(std::to_string(s.calls - t.ok) + " of " +
                                     std::to_string(s.calls) + " calls failed");
}

asio::awaitable<std::string> fib_server(warren::message_context& m) {
    co_return std::to_string(*examples::fib(std::stoull(m.body())));
}

asio::awaitable<void> run_all(examples::broker_choice& broker, settings s, bool own_server) {
    auto conn = co_await broker.connect();
    if (!own_server) {
        co_await calls(conn, s);
        co_await conn.close();
        co_return;
    }
    // No --uri: this process also serves, on a connection of its own.
    auto server_conn = co_await broker.connect();
    warren::rpc_server_options so;
    so.queue = s.queue;
    warren::rpc_server server{server_conn, so};
    auto client = [](warren::connection& c, settings cfg,
                     warren::rpc_server& srv) -> asio::awaitable<void> {
        struct stop_at_end {
            warren::rpc_server& s;
            ~stop_at_end() { s.stop(); }
        } guard{srv};
        co_await calls(c, cfg);
    };
    using namespace boost::asio::experimental::awaitable_operators;
    co_await (server.run(fib_server) && client(conn, s, server));
    co_await conn.close();
}

}  // namespace

int main(int argc, char** argv) {
    return examples::main_with(
        argc, argv,
        {{"queue", "rpc.fib"}, {"calls", "1000"}, {"concurrency", "100"}, {"timeout-ms", "2000"}},
        {},
        "usage: example_rpc_client [--uri U]... [--queue rpc.fib] [--calls 1000] [--concurrency "
        "100] "
        "[--timeout-ms 2000]",
        [](const examples::options& o) {
            settings s;
            s.queue = o.text("queue");
            s.calls = o.number("calls");
            s.concurrency = std::max<std::uint64_t>(o.number("concurrency"), 1);
            s.timeout =
                std::chrono::milliseconds(std::max<std::uint64_t>(o.number("timeout-ms"), 1));
            asio::io_context io;
            examples::broker_choice broker{io, o};
            warren::graceful_shutdown shutdown{io};
            shutdown.on_shutdown([&io] { io.stop(); });
            return examples::run(io, run_all(broker, s, !o.serving()));
        });
}
