#pragma once
// The embedded broker: a broker in this process, reached with connect(io, "embedded://").

#include <warren/embedded/embedded_broker.hpp>
