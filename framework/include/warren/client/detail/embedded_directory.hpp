#pragma once
// Internal extension point between the client and the embedded module: the embedded brokers of
// an execution context, by name, so that connect(io, "embedded://name") reaches one without the
// client depending on the broker. warren::embedded_broker registers itself here.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution_context.hpp>

#include <functional>
#include <string>

namespace warren {
class connection;
struct uri;
}  // namespace warren

namespace warren::detail {

/// Opens an in-process connection (the handshake included) with the URI's user, password,
/// vhost and tuning.
using embedded_connector = std::function<boost::asio::awaitable<connection>(uri)>;

/// Makes `connector` the embedded broker `name` of `ctx`. Throws std::logic_error if the name
/// is taken. Thread-safe.
void register_embedded(boost::asio::execution_context& ctx, const std::string& name,
                       embedded_connector connector);
/// Removes the embedded broker `name` of `ctx` (no-op if absent). Thread-safe.
void unregister_embedded(boost::asio::execution_context& ctx, const std::string& name) noexcept;
/// The connector registered as `name` in `ctx`, or an empty function. Thread-safe.
embedded_connector find_embedded(boost::asio::execution_context& ctx, const std::string& name);

}  // namespace warren::detail
