#pragma once

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
