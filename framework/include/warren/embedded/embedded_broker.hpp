#pragma once
// The embedded broker: a warren::broker::broker running inside the caller's io_context, reached
// through the normal client API (co_await warren::connect(io, "embedded://")) without a socket.

#include <warren/broker/broker_options.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/protocol/reply_code.hpp>
#include <warren/server/session_options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace warren {

namespace detail {
struct embedded_state;
}

struct embedded_options {
    /// The name in embedded://<name> URIs; each embedded broker of an io_context has its own.
    std::string name{};
    broker::broker_options broker{};
    /// The server session's settings (heartbeat proposed, frame_max, output high water, ...).
    server::session_options session{};
    /// Unread bytes each direction of an in-process connection holds before the writer waits
    /// (a socket buffer's role).
    std::size_t pipe_capacity = 256 * 1024;
    /// Simulated time for tests: the broker's clock (message and queue TTLs, delayed retries,
    /// queue expiry, consumer_timeout) stands still until embedded_broker::advance() moves it,
    /// so that hours of TTLs run in milliseconds. Overrides broker.clock.
    bool manual_clock = false;
};

/// A broker in this process. Every in-process connection runs the server's own session code
/// (server::detail::stream_connection over an in-memory stream), so behaviour, errors and
/// backpressure are those of a TCP connection to warren-broker.
///
/// Construct one on an io_context, then connect to it by URI like to any broker:
///     boost::asio::io_context io;
///     warren::embedded_broker broker{io};
///     auto conn = co_await warren::connect(io, "embedded://");   // or "amqp://host:5672/"
/// The broker registers itself as `options.name` ("embedded://<name>") on `io` for its lifetime.
///
/// Threading: the broker and all its connections run on one strand of `io` (get_executor()).
/// Lifetime: destroy it before `io`. The broker state lives until the embedded_broker and every
/// connection to it are gone; destroying the embedded_broker does not close connections (see
/// stop()), but new connections to its name are refused.
class embedded_broker {
  public:
    /// Throws std::logic_error if `io` already has an embedded broker of that name.
    explicit embedded_broker(boost::asio::io_context& io, embedded_options options = {});
    ~embedded_broker();
    embedded_broker(const embedded_broker&) = delete;
    embedded_broker& operator=(const embedded_broker&) = delete;

    /// The URI that connects to this broker ("embedded://<name>").
    std::string uri() const;
    /// The broker core (vhosts, users). Use only from get_executor().
    broker::broker& get_broker() noexcept;
    /// The strand the broker and its connections run on.
    boost::asio::any_io_executor get_executor() const;
    /// Closes every connection from the server side (connection.close with `code`); clients
    /// see connection_error. New connections are still accepted.
    void stop(protocol::reply_code code = protocol::reply_code::connection_forced,
              std::string text = "CONNECTION_FORCED - broker shutdown");
    /// Connections currently open.
    std::size_t connection_count() const;

    /// With options.manual_clock: moves the broker's clock forward by `d`, stopping at each
    /// deadline on the way (so that TTL expiries and the dead-lettering they cause happen in
    /// order), and runs what became due. Call from get_executor(). Throws std::logic_error
    /// without manual_clock.
    void advance(std::chrono::milliseconds d);

  private:
    boost::asio::io_context& io_;
    std::shared_ptr<detail::embedded_state> state_;
};

}  // namespace warren
