#pragma once
// The client suite runs against the embedded broker (default) or, when AMQP_URL is set (by
// tests/interop/harness.py), against that server: warren-broker or RabbitMQ.

#include <warren/client/connection.hpp>
#include <warren/client/detail/race.hpp>
#include <warren/client/error.hpp>
#include <warren/embedded.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>

namespace warren::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// One test's world: an io_context plus the broker under test, named by a URI: an embedded
/// broker of this process ("embedded://"), or AMQP_URL.
class world {
  public:
    world() {
        if (const char* url = std::getenv("AMQP_URL"); url != nullptr && *url != '\0') {
            uri_ = parse_uri(url);
            // harness.py exports "amqp://guest:guest@host:port/", which pika (and the harness'
            // other drivers) read as the default vhost; this suite means the same.
            if (uri_.vhost.empty()) uri_.vhost = "/";
        } else {
            broker_ = std::make_unique<embedded_broker>(io);
            uri_ = parse_uri(broker_->uri());
        }
    }
    bool embedded() const noexcept { return broker_ != nullptr; }
    embedded_broker& broker() { return *broker_; }

    /// A new connection to the broker under test.
    asio::awaitable<connection> connect() { return warren::connect(io, uri_); }
    /// The same with another user, password or vhost than guest/guest on "/".
    asio::awaitable<connection> connect(const std::string& user, const std::string& password,
                                        const std::string& vhost = "/") {
        uri u = uri_;
        u.user = user;
        u.password = password;
        u.vhost = vhost;
        return warren::connect(io, std::move(u));
    }

    /// A name no other test (or earlier run against the same server) uses.
    std::string unique(const std::string& base) {
        static int counter = 0;
        return "warren-test." + base + "." + std::to_string(::getpid()) + "." +
               std::to_string(++counter);
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
    uri uri_;
};

}  // namespace warren::test
