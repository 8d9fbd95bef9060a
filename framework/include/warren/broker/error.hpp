#pragma once
// AMQP failures inside the broker are values: a reply code plus RabbitMQ's reply text.

#include <warren/protocol/reply_code.hpp>

#include <boost/system/result.hpp>

#include <iosfwd>
#include <string>
#include <string_view>

namespace warren::broker {

using protocol::reply_code;

/// A failed broker operation. `text` is the complete reply text ("NOT_FOUND - no queue 'q' in
/// vhost '/'"). Whether it closes the channel or the connection follows from `code`
/// (protocol::is_hard_error), as in RabbitMQ.
struct amqp_error {
    reply_code code = reply_code::internal_error;
    std::string text;
};

/// Writes the reply text (for logs and test failure messages).
std::ostream& operator<<(std::ostream& os, const amqp_error& e);

/// Builds an amqp_error whose text is "<CODE_NAME> - <detail>".
amqp_error make_error(reply_code code, std::string_view detail);

[[noreturn]] void throw_exception_from_error(const amqp_error& e,
                                             const boost::source_location& loc);

template <class T = void>
using result = boost::system::result<T, amqp_error>;

}  // namespace warren::broker
