#pragma once
// An AMQP 0-9-1 connection, to a server over TCP or to an embedded broker in this process,
// chosen by the URI alone.

#include <warren/client/channel.hpp>
#include <warren/client/fwd.hpp>
#include <warren/client/options.hpp>
#include <warren/client/uri.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace warren {

/// One connection: a reader coroutine that dispatches frames to channels, a writer coroutine
/// that sends everything queued in one write per batch, and a heartbeat timer.
///
/// Threading contract: a connection, its channels, consumers and deliveries are not
/// thread-safe. They run on the connection's executor (get_executor(): a strand of the
/// io_context for TCP, the broker's strand for the embedded broker). Call them from coroutines
/// running on that executor, or on an io_context run by a single thread (the common case).
///
/// Errors: a close by the server (connection.close), a lost transport or missed heartbeats end
/// the connection; every pending and later operation throws connection_error carrying the reply
/// code and text.
///
/// Lifetime: move-only. Destroying an open connection closes it in the background. Channels
/// keep the connection's state alive but do not keep it open.
class connection {
  public:
    connection(connection&&) noexcept;
    connection& operator=(connection&&) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    /// channel.open (plus confirm.select when options.confirms). Throws connection_error, or
    /// channel_error(resource_error) when channel_max channels are open.
    /// Cancellation: a channel opened after cancellation is closed in the background.
    boost::asio::awaitable<channel> open_channel(channel_options options = {});

    /// connection.close(200); resumes on close-ok (or when the transport ends). Pending
    /// operations on its channels throw connection_error. Idempotent.
    boost::asio::awaitable<void> close();

    bool is_open() const noexcept;
    /// True while the broker blocks publishing (connection.blocked, e.g. memory alarm).
    bool blocked() const noexcept;
    boost::asio::any_io_executor get_executor() const;

    /// Negotiated limits (0 = none).
    std::uint16_t channel_max() const noexcept;
    std::uint32_t frame_max() const noexcept;
    std::uint16_t heartbeat() const noexcept;
    /// connection.start's server properties ("product", "version", "capabilities", ...).
    const field_table& server_properties() const noexcept;

    /// Internal: wraps an opened connection (see detail::open_connection).
    explicit connection(std::shared_ptr<detail::connection_impl> impl) noexcept;

  private:
    std::shared_ptr<detail::connection_impl> impl_;
};

/// Connects to the broker the URI names and runs the handshake (SASL PLAIN, tune, open):
/// - `amqp://user:pass@host:port/vhost?...`: over TCP (resolve, connect) to warren-broker,
///   RabbitMQ or any AMQP 0-9-1 broker; the connection runs on a new strand of `io`.
/// - `embedded://[name][/vhost]`: to the warren::embedded_broker named `name` ("" by default)
///   constructed on `io` (<warren/embedded.hpp>); the connection runs on that broker's strand.
/// So a program picks an embedded broker, warren-broker or RabbitMQ by its URI alone.
/// (There is deliberately no overload taking an executor: Asio's executor concept checks find
/// `connect` by ADL and would recurse.)
/// Throws uri_error (bad URI text), connection_error (refused login: 403 ACCESS_REFUSED,
/// unknown vhost: 530 NOT_ALLOWED, transport errors, timeout, no such embedded broker:
/// asio::error::not_found). Cancellation: aborts the attempt.
boost::asio::awaitable<connection> connect(boost::asio::io_context& io, std::string uri_text);
boost::asio::awaitable<connection> connect(boost::asio::io_context& io, uri params);

}  // namespace warren
