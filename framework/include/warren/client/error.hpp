#pragma once
// The client's error model: the exceptions the client API throws (connection_error,
// channel_error, as pika and amqplib do), with AMQP reply codes as boost::system error codes
// (protocol::reply_category).

#include <warren/protocol/reply_code.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <cstdint>
#include <string>

namespace warren {

/// Thrown when the connection is closed by the server (code in reply_category, text as sent),
/// lost (code is the transport error, e.g. asio::error::eof, or asio::error::timed_out for
/// missed heartbeats), or already closed by this client (code reply_code::success).
/// what() is the reply text.
class connection_error : public boost::system::system_error {
  public:
    connection_error(boost::system::error_code code, std::string text)
        : boost::system::system_error(code), text_(std::move(text)) {}
    /// The server's reply text ("CONNECTION_FORCED - broker shutdown") or a description.
    const std::string& reply_text() const noexcept { return text_; }
    const char* what() const noexcept override { return text_.c_str(); }

  private:
    std::string text_;
};

/// Thrown when the server closed the channel (code in reply_category, e.g. not_found or
/// precondition_failed), or when a channel is used after it was closed. what() is the reply text.
/// The connection stays usable: open a new channel.
class channel_error : public boost::system::system_error {
  public:
    channel_error(boost::system::error_code code, std::string text)
        : boost::system::system_error(code), text_(std::move(text)) {}
    const std::string& reply_text() const noexcept { return text_; }
    const char* what() const noexcept override { return text_.c_str(); }

  private:
    std::string text_;
};

/// Thrown by a confirmed publish that the broker negatively acknowledged (basic.nack).
class publish_nacked : public std::runtime_error {
  public:
    explicit publish_nacked(std::uint64_t sequence)
        : std::runtime_error("message " + std::to_string(sequence) + " was nacked by the broker"),
          sequence_(sequence) {}
    /// The publish sequence number the broker nacked.
    std::uint64_t sequence() const noexcept { return sequence_; }

  private:
    std::uint64_t sequence_;
};

}  // namespace warren
