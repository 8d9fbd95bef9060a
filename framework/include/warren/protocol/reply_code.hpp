#pragma once
// AMQP 0-9-1 reply codes (spec constants) and the rule that decides channel vs connection errors.

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace warren::protocol {

/// Reply codes as used by RabbitMQ 3.10 in channel.close / connection.close / basic.return.
enum class reply_code : std::uint16_t {
    success = 200,
    content_too_large = 311,
    no_route = 312,
    no_consumers = 313,
    connection_forced = 320,
    invalid_path = 402,
    access_refused = 403,
    not_found = 404,
    resource_locked = 405,
    precondition_failed = 406,
    frame_error = 501,
    syntax_error = 502,
    command_invalid = 503,
    channel_error = 504,
    unexpected_frame = 505,
    resource_error = 506,
    not_allowed = 530,
    not_implemented = 540,
    internal_error = 541,
};

/// True for the spec's "hard errors": they close the whole connection.
constexpr bool is_hard_error(reply_code c) noexcept {
    switch (c) {
        case reply_code::connection_forced:
        case reply_code::invalid_path:
        case reply_code::frame_error:
        case reply_code::syntax_error:
        case reply_code::command_invalid:
        case reply_code::channel_error:
        case reply_code::unexpected_frame:
        case reply_code::resource_error:
        case reply_code::not_allowed:
        case reply_code::not_implemented:
        case reply_code::internal_error:
            return true;
        default:
            return false;
    }
}

/// RabbitMQ's upper-case name for a code, e.g. "NOT_FOUND" (used in reply texts).
std::string_view reply_code_name(reply_code c) noexcept;

/// The category of AMQP reply codes ("warren.amqp"); the message is the spec name
/// ("NOT_FOUND"). Lets `e.code() == protocol::reply_code::not_found` work on the client's
/// exceptions, and lets the server and the broker carry reply codes as error_codes.
const boost::system::error_category& reply_category() noexcept;

inline boost::system::error_code make_error_code(reply_code c) noexcept {
    return {static_cast<int>(c), reply_category()};
}

}  // namespace warren::protocol

template <>
struct boost::system::is_error_code_enum<warren::protocol::reply_code> : std::true_type {};
