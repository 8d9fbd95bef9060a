#pragma once
// The AMQP listener: accepts TCP connections and runs one session per connection on the given
// io_context. Everything (listener, sessions, broker) runs on that io_context's single thread.

#include <warren/broker/fwd.hpp>
#include <warren/server/session.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace warren::server {

struct server_options {
    std::string bind = "127.0.0.1";
    /// 0 picks a free port (see server::port()).
    std::uint16_t port = 5672;
    session_options session;
    /// A client that has not completed connection.open by then is disconnected.
    std::chrono::seconds handshake_timeout{10};
    /// How long a connection.close waits for close-ok before the socket is closed; also how
    /// long a finished connection keeps reading (and dropping) input until the peer closes.
    std::chrono::seconds close_timeout{3};
};

class server {
  public:
    /// `io` and `b` must outlive the server. Thread-safety: call only from `io`'s thread.
    server(boost::asio::io_context& io, broker::broker& b, server_options options);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and starts accepting. Throws boost::system::system_error if the address is
    /// unusable (in use, not local, ...).
    void start();
    /// The bound port (after start()).
    std::uint16_t port() const;
    /// Stops accepting and closes every connection with 320 CONNECTION_FORCED.
    void stop();
    /// Open client connections.
    std::size_t connection_count() const;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace warren::server
