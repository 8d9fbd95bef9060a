#pragma once
// The client suite runs against the embedded broker (default) or, when AMQP_URL is set (by
// tests/interop/harness.py), against that server: warren-broker or RabbitMQ.

#include <warren/client/connection.hpp>
#include <warren/client/detail/race.hpp>
#include <warren/client/error.hpp>
#include <warren/embedded/embedded_broker.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <unistd.h>
#include <memory>
#include <optional>
#include <string>

namespace warren::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// One test's world: an io_context plus either an embedded broker or a server URI.
class world {
public:
    world() {
        if (const char* url = std::getenv("AMQP_URL"); url != nullptr && *url != '\0') {
            uri_ = parse_uri(url);
            // harness.py exports "amqp://guest:guest@host:port/", which pika (and the harness'
            // other drivers) read as the default vhost; this suite means the same.
            if (uri_->vhost.empty()) uri_->vhost = "/";
        } else {
            broker_ = std::make_unique<embedded_broker>(io);
        }
    }
    bool embedded() const noexcept { return broker_ != nullptr; }
    embedded_broker& broker() { return *broker_; }

    /// A new connection to the broker under test.
    asio::awaitable<connection> connect() { return connect(uri()); }
    asio::awaitable<connection> connect(uri params) {
        if (broker_) co_return co_await warren::connect(*broker_, std::move(params));
        uri u = *uri_;
        if (params.user != "guest") u.user = params.user;
        if (params.password != "guest") u.password = params.password;
        if (params.vhost != "/") u.vhost = params.vhost;
        co_return co_await warren::connect(io, std::move(u));
    }

    /// A name no other test (or earlier run against the same server) uses.
    std::string unique(const std::string& base) {
        static int counter = 0;
        return "warren-test." + base + "." + std::to_string(::getpid()) + "." + std::to_string(++counter);
    }

    asio::awaitable<void> sleep(std::chrono::milliseconds d) {
        asio::steady_timer t(io, d);
        co_await t.async_wait(asio::use_awaitable);
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
    std::optional<uri> uri_;
};

}  // namespace warren::test
