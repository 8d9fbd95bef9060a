#pragma once
// The byte stream under a client connection: TCP, or the embedded broker's in-memory pipe.
// Internal extension point (used by the embedded module); not part of the stable API.

#include <warren/client/detail/asio.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <tuple>
#include <utility>

namespace warren::detail {

using io_result = std::tuple<boost::system::error_code, std::size_t>;

/// A connected byte stream. One reader and one writer at a time; close() makes pending and
/// later operations fail. Used only from the connection's executor.
class transport {
  public:
    virtual ~transport() = default;
    /// Reads at least one byte (or fails: eof when the peer closed).
    virtual asio::awaitable<io_result> read_some(asio::mutable_buffer buffer) = 0;
    /// Writes the whole buffer (or fails).
    virtual asio::awaitable<io_result> write(asio::const_buffer buffer) = 0;
    /// Closes both directions; idempotent, never throws.
    virtual void close() noexcept = 0;
};

/// A transport over any Asio stream with async_read_some/async_write_some and close(ec).
template <class Stream>
class stream_transport final : public transport {
  public:
    explicit stream_transport(Stream stream) : stream_(std::move(stream)) {}

    asio::awaitable<io_result> read_some(asio::mutable_buffer buffer) override {
        co_return co_await stream_.async_read_some(buffer, use_nothrow);
    }
    asio::awaitable<io_result> write(asio::const_buffer buffer) override {
        co_return co_await asio::async_write(stream_, buffer, use_nothrow);
    }
    void close() noexcept override {
        boost::system::error_code ec;
        stream_.close(ec);
    }
    Stream& stream() noexcept { return stream_; }

  private:
    Stream stream_;
};

}  // namespace warren::detail

#include <memory>

namespace warren {
class connection;
struct uri;
}  // namespace warren

namespace warren::detail {
/// Runs the AMQP handshake over `t` and returns the open connection, which runs on `ex`
/// (`t` must complete its operations there). Throws connection_error.
asio::awaitable<connection> open_connection(asio::any_io_executor ex, std::unique_ptr<transport> t,
                                            uri params);
}  // namespace warren::detail
