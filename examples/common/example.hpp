#pragma once
// Shared by the examples: the broker is chosen by `--uri` alone: `embedded://` (the default: an
// embedded broker in this process) or `amqp://...` (warren-broker, RabbitMQ). Every example checks
// its own result (examples::expect) and exits 1 when the check fails, when an operation throws, or
// when it does not finish within a deadline, so that ctest notices a broken run.

#include <warren/client/detail/race.hpp>
#include <warren/embedded.hpp>
#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace examples {

namespace asio = boost::asio;

/// The self-check: throws (and so fails the example) when `ok` is false.
inline void expect(bool ok, std::string_view what) {
    if (!ok) throw std::runtime_error("self-check failed: " + std::string(what));
}

/// Sleeps on the current coroutine's executor.
inline asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

namespace detail {
inline asio::awaitable<std::exception_ptr> captured(asio::awaitable<void> task) {
    try {
        co_await std::move(task);
    } catch (...) {
        co_return std::current_exception();  // rethrown by first_of when this task won
    }
    co_return nullptr;
}
}  // namespace detail

/// Runs `a` and `b` concurrently until one of them ends (returns or throws); the other is
/// cancelled (consumer::next() is cancel-safe, see docs/client.md). Rethrows what the one that
/// ended threw; else returns which one ended (0 for `a`, 1 for `b`). Used to stop a server
/// loop (RPC server, second worker) once the other side is done.
inline asio::awaitable<std::size_t> first_of(asio::awaitable<void> a, asio::awaitable<void> b) {
    // Both always "succeed" (errors are captured), so race() ends with the first to finish.
    auto ended = co_await warren::detail::race(detail::captured(std::move(a)),
                                               detail::captured(std::move(b)));
    auto error = std::visit([](std::exception_ptr e) { return e; }, ended);
    if (error) std::rethrow_exception(error);
    co_return ended.index();
}

class app {
  public:
    app(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            const std::string_view arg = argv[i];
            if (arg == "--uri" && i + 1 < argc) {
                uri_ = warren::parse_uri(argv[++i]);
            } else if (arg == "--count" && i + 1 < argc) {
                count = std::stoul(argv[++i]);
            } else {
                throw std::invalid_argument(
                    "usage: " + std::string(argv[0]) +
                    " [--uri embedded:// | amqp://user:pass@host:port/vhost] [--count N]");
            }
        }
        // An embedded:// URI names a broker of this process: start it.
        if (uri_.scheme == warren::uri_scheme::embedded) {
            warren::embedded_options o;
            o.name = uri_.host;
            broker_ = std::make_unique<warren::embedded_broker>(io, std::move(o));
        }
    }

    /// A new connection to the broker the URI names.
    asio::awaitable<warren::connection> connect() { return warren::connect(io, uri_); }

    /// Runs `main` to completion; returns the process exit status: 0 only if it returned
    /// within `deadline`.
    int run(asio::awaitable<void> main, std::chrono::seconds deadline = std::chrono::seconds(60)) {
        std::exception_ptr error;
        bool finished = false;
        asio::steady_timer watchdog(io, deadline);
        asio::co_spawn(io, std::move(main), [&](std::exception_ptr e) {
            error = e;
            finished = true;
            watchdog.cancel();
        });
        watchdog.async_wait([this, &finished](boost::system::error_code ec) {
            if (!ec && !finished) io.stop();
        });
        io.run();
        if (!finished) {
            std::cerr << "error: not finished after " << deadline.count() << " s\n";
            return 1;
        }
        if (!error) return 0;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            std::cerr << "error: " << e.what() << '\n';
        }
        return 1;
    }

    asio::io_context io;
    /// --count N: how many messages the examples that take a count send (0 = their default).
    std::size_t count = 0;

  private:
    warren::uri uri_ = warren::parse_uri("embedded://");
    std::unique_ptr<warren::embedded_broker> broker_;
};

/// `examples::main<run>(argc, argv)`: builds the app and runs `run(app)`; bad arguments exit 2.
template <asio::awaitable<void> (*Run)(app&)>
int main(int argc, char** argv) {
    try {
        app a(argc, argv);
        return a.run(Run(a));
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
}

}  // namespace examples
