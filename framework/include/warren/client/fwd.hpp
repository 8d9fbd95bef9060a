#pragma once
// Forward declarations of the client's public types.

namespace warren {
class connection;
class channel;
class consumer;
class delivery;
class confirmation;
struct uri;
namespace detail {
class connection_impl;
class channel_impl;
struct consumer_state;
struct confirm_state;
}  // namespace detail
}  // namespace warren
