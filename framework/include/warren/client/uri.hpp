#pragma once
// AMQP URIs as RabbitMQ's clients read them:
//   amqp://user:pass@host:port/vhost?heartbeat=N&frame_max=N&channel_max=N&connection_timeout=MS
// and Warren's own scheme for a broker in this process (warren::embedded_broker):
//   embedded://[user:pass@][name][/vhost][?query]

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace warren {

enum class uri_scheme {
    amqp,      ///< TCP to warren-broker, RabbitMQ or any AMQP 0-9-1 broker
    embedded,  ///< a warren::embedded_broker of the connecting io_context, named by `host`
};

/// A parsed AMQP URI. Defaults are RabbitMQ's: guest/guest, localhost, 5672, vhost "/".
/// Not an aggregate (see options.hpp): set the members of a named variable, or parse_uri().
struct uri {
    uri() = default;

    uri_scheme scheme = uri_scheme::amqp;
    std::string user = "guest";
    std::string password = "guest";
    /// The server's host; for embedded://, the embedded broker's name ("" by default).
    std::string host = "localhost";
    std::uint16_t port = 5672;
    /// "/" when the URI has no path; "" for "amqp://host/" (an empty path segment).
    std::string vhost = "/";
    /// Heartbeat the client asks for, seconds; unset = accept the server's proposal, 0 = off.
    std::optional<std::uint16_t> heartbeat{};
    /// 0 = no limit of our own (the server's value is used).
    std::uint32_t frame_max = 131072;
    /// 0 = no limit of our own (the server's value is used).
    std::uint16_t channel_max = 2047;
    /// TCP connect + handshake timeout in milliseconds (0 = none).
    std::uint32_t connection_timeout = 30000;
};

/// Thrown by parse_uri; what() names the offending part.
class uri_error : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// Parses `text`. Userinfo, host and vhost are percent-decoded ("%2f" is "/"). Accepts the
/// schemes "amqp" and "embedded" (no port), IPv6 literals in brackets, and the query keys
/// heartbeat, frame_max, channel_max, connection_timeout. Throws uri_error on anything else
/// (unknown scheme or key, bad port, bad escape, "amqps": TLS is not implemented yet, ...).
uri parse_uri(std::string_view text);

/// The URI without the password ("amqp://guest@localhost:5672/%2F",
/// "embedded://guest@/%2F"), for logs.
std::string to_string(const uri& u);

}  // namespace warren
