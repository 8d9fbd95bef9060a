#pragma once
// The service tests' world: an io_context with an embedded broker (optionally on simulated
// time), or the server named by AMQP_URL (set by tests/interop/harness.py), plus helpers to run
// coroutines to completion and to wait for a condition with a bounded real-time deadline.

#include <warren/embedded.hpp>
#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <unistd.h>

namespace warren::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

enum class clock_kind { real, simulated };

class world {
  public:
    explicit world(clock_kind k = clock_kind::real) {
        const char* url = std::getenv("AMQP_URL");
        if (url != nullptr && *url != '\0' && k == clock_kind::real) {
            uri_ = parse_uri(url);
            if (uri_.vhost.empty()) uri_.vhost = "/";
        } else {
            embedded_options o;
            o.manual_clock = k == clock_kind::simulated;
            broker_ = std::make_unique<embedded_broker>(io, o);
            uri_ = parse_uri(broker_->uri());
        }
    }
    bool embedded() const noexcept { return broker_ != nullptr; }
    embedded_broker& broker() { return *broker_; }
    asio::awaitable<connection> connect() { return warren::connect(io, uri_); }

    /// A name no other test (or earlier run against the same server) uses.
    std::string unique(const std::string& base) {
        static int counter = 0;
        return "warren-svc-test." + base + "." + std::to_string(::getpid()) + "." +
               std::to_string(++counter);
    }

    /// Runs `aw` to completion on the io_context; exceptions reach doctest.
    template <class T>
    T run(asio::awaitable<T> aw) {
        auto f = asio::co_spawn(io, std::move(aw), asio::use_future);
        io.run();
        io.restart();
        return f.get();
    }

    asio::io_context io;

  private:
    std::unique_ptr<embedded_broker> broker_;
    uri uri_;
};

/// Polls `pred` every millisecond until it holds; fails the test after `limit` (real time).
inline asio::awaitable<void> wait_until(std::function<bool()> pred,
                                        std::chrono::milliseconds limit = 10s,
                                        const char* what = "condition") {
    asio::steady_timer t(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            FAIL("timed out waiting for: " << what);
            co_return;
        }
        t.expires_after(1ms);
        co_await t.async_wait(asio::use_awaitable);
    }
}

namespace detail {
inline asio::awaitable<std::exception_ptr> captured(asio::awaitable<void> a) {
    try {
        co_await std::move(a);
    } catch (...) {
        co_return std::current_exception();
    }
    co_return nullptr;
}
inline bool is_abort(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& x) {
        return x.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}
}  // namespace detail

/// Runs `a` and `b` to their ends, together, and rethrows what went wrong first in substance:
/// unlike `a && b`, a failure does not cancel the other (each test coroutine stops its partner
/// on the way out), so the error reported is the cause, not a cancellation it led to.
inline asio::awaitable<void> both(asio::awaitable<void> a, asio::awaitable<void> b) {
    using namespace boost::asio::experimental::awaitable_operators;
    auto [ea, eb] = co_await (detail::captured(std::move(a)) && detail::captured(std::move(b)));
    for (auto e : {ea, eb}) {
        if (e && !detail::is_abort(e)) std::rethrow_exception(e);
    }
    for (auto e : {ea, eb}) {
        if (e) std::rethrow_exception(e);
    }
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

/// Messages ready in `queue` (a round trip: also a barrier after everything sent before).
inline asio::awaitable<std::uint32_t> depth(channel& ch, std::string queue) {
    co_return (co_await ch.declare_queue(std::move(queue), {.passive = true})).message_count;
}

/// A string or integer header of `d` as text ("<missing>" when absent).
inline std::string header_text(const basic_properties& p, const char* name) {
    const auto* v = p.headers ? p.headers->find(name) : nullptr;
    if (v == nullptr) return "<missing>";
    if (const auto* s = v->as_string()) return *s;
    if (auto i = v->as_integer()) return std::to_string(*i);
    return "<other>";
}

}  // namespace warren::test
