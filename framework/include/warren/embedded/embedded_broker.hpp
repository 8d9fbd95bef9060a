#pragma once
// The embedded broker: a warren::broker::broker running inside the caller's io_context, reached
// through the normal client API (warren::connect(io, broker)) without a socket.

#include <warren/broker/broker.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/uri.hpp>
#include <warren/protocol/reply_code.hpp>
#include <warren/server/session.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

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
    broker::broker_options broker{};
    /// The server session's settings (heartbeat proposed, frame_max, output high water, ...).
    server::session_options session{};
    /// Unread bytes each direction of an in-process connection holds before the writer waits
    /// (a socket buffer's role).
    std::size_t pipe_capacity = 256 * 1024;
};

/// A broker in this process. Every in-process connection runs the server's own session code
/// (server::detail::stream_connection over an in-memory stream), so behaviour, errors and
/// backpressure are those of a TCP connection to warren-broker.
///
/// Threading: the broker and all its connections run on one strand of `io` (get_executor()).
/// Lifetime: the broker state lives until the embedded_broker and every connection to it are
/// gone; destroying the embedded_broker does not close connections (see stop()).
class embedded_broker {
public:
    explicit embedded_broker(boost::asio::io_context& io, embedded_options options = {});
    ~embedded_broker();
    embedded_broker(const embedded_broker&) = delete;
    embedded_broker& operator=(const embedded_broker&) = delete;

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

private:
    friend boost::asio::awaitable<connection> connect(embedded_broker& b, uri params);
    friend boost::asio::awaitable<connection> connect(boost::asio::io_context& io, embedded_broker& b,
                                                      uri params);
    friend boost::asio::awaitable<connection> connect(embedded_broker& b);
    friend boost::asio::awaitable<connection> connect(boost::asio::io_context& io, embedded_broker& b);
    std::shared_ptr<detail::embedded_state> state_;
};

/// Opens an in-process connection to `b` (handshake included). `params` supplies user,
/// password, vhost, heartbeat, frame_max and channel_max; host and port are ignored.
/// Throws connection_error like a TCP connect.
boost::asio::awaitable<connection> connect(embedded_broker& b, uri params);
/// As above with the default parameters (guest/guest, vhost "/").
boost::asio::awaitable<connection> connect(embedded_broker& b);
/// Same, in the `connect(io, ...)` spelling of the TCP overloads.
boost::asio::awaitable<connection> connect(boost::asio::io_context& io, embedded_broker& b, uri params);
boost::asio::awaitable<connection> connect(boost::asio::io_context& io, embedded_broker& b);

}  // namespace warren
