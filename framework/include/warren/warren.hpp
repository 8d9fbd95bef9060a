#pragma once
// The client API: connections (TCP or embedded, chosen by URI), channels, consumers,
// deliveries, confirms, errors and timeouts. The broker-in-process is <warren/embedded.hpp>.

#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/consumer.hpp>
#include <warren/client/delivery.hpp>
#include <warren/client/error.hpp>
#include <warren/client/options.hpp>
#include <warren/client/timeout.hpp>
#include <warren/client/uri.hpp>
