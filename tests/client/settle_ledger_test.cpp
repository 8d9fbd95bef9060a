// The channel's record of which delivery tags are unsettled (private header).
#include "detail/settle_ledger.hpp"

#include <doctest/doctest.h>

using warren::detail::settle_ledger;
using outcome = settle_ledger::outcome;

TEST_CASE("settle_ledger: each tag settles once") {
    settle_ledger l;
    for (std::uint64_t t = 1; t <= 3; ++t) l.received(t, false);
    CHECK(l.settle(2, false) == outcome::settled);
    CHECK(l.settle(2, false) == outcome::already_settled);
    CHECK(l.is_settled(2));
    CHECK_FALSE(l.is_settled(1));
    CHECK(l.settle(4, false) == outcome::unknown);
    CHECK(l.settle(0, false) == outcome::unknown);
    CHECK(l.settle(1, false) == outcome::settled);
    CHECK(l.size() == 1);  // 1 and 2 dropped from the front; 3 is held
    CHECK(l.settle(1, false) == outcome::already_settled);
}

TEST_CASE("settle_ledger: multiple settles every earlier tag; 0 with multiple settles all") {
    settle_ledger l;
    for (std::uint64_t t = 1; t <= 5; ++t) l.received(t, false);
    CHECK(l.settle(3, true) == outcome::settled);
    for (std::uint64_t t = 1; t <= 3; ++t) CHECK(l.is_settled(t));
    CHECK(l.settle(2, false) == outcome::already_settled);
    CHECK(l.settle(3, true) ==
          outcome::already_settled);  // as RabbitMQ: the tag itself must be unsettled
    CHECK(l.settle(0, true) == outcome::settled);
    CHECK(l.size() == 0);
    CHECK(l.settle(0, true) == outcome::already_settled);
}

TEST_CASE("settle_ledger: no_ack deliveries and gaps need no settling") {
    settle_ledger l;
    l.received(1, true);
    l.received(2, false);
    l.received(5, false);  // 3 and 4 went to a no_ack consumer this ledger did not see
    CHECK(l.settle(1, false) == outcome::already_settled);
    CHECK(l.settle(3, false) == outcome::already_settled);
    CHECK(l.settle(5, true) == outcome::settled);
    CHECK(l.size() == 0);
    l.received(6, false);
    l.clear();  // the channel closed: the broker requeued 6
    CHECK(l.is_settled(6));
    CHECK(l.settle(6, false) == outcome::already_settled);
}
