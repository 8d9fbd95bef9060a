#pragma once
// Everything an application needs: the client API and the embedded broker.

#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/consumer.hpp>
#include <warren/client/delivery.hpp>
#include <warren/client/error.hpp>
#include <warren/client/options.hpp>
#include <warren/client/uri.hpp>
#include <warren/embedded/embedded_broker.hpp>
