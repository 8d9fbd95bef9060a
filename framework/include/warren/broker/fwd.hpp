#pragma once

// The broker's own channel, connection and consumer, not the client's warren::channel & co.
// NOLINTBEGIN(bugprone-forward-declaration-namespace)
namespace warren::broker {
class broker;
class vhost;
class exchange;
class queue;
class channel;
class connection;
class client_sink;
struct consumer;
struct message;
}  // namespace warren::broker
// NOLINTEND(bugprone-forward-declaration-namespace)
