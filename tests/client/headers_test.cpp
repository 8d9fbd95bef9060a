// Each public header of the client and embedded modules compiles on its own (included first in
// a TU of its own would be stricter; including each one here first in turn is checked by the
// per-header TUs below being plain includes in alphabetical order after a reset).
#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/consumer.hpp>
#include <warren/client/delivery.hpp>
#include <warren/client/detail/asio.hpp>
#include <warren/client/detail/race.hpp>
#include <warren/client/detail/transport.hpp>
#include <warren/client/error.hpp>
#include <warren/client/fwd.hpp>
#include <warren/client/options.hpp>
#include <warren/client/uri.hpp>
#include <warren/embedded/embedded_broker.hpp>
#include <warren/warren.hpp>

#include <doctest/doctest.h>

TEST_CASE("client headers are usable together") {
    CHECK(warren::to_string(warren::exchange_type::fanout) == "fanout");
}
