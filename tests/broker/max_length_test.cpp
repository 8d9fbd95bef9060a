// x-max-length / x-max-length-bytes with drop-head, reject-publish, reject-publish-dlx.
#include "ext_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using namespace warren::test;
using protocol::field_table;

namespace {
std::vector<std::string> drain(broker::channel& ch, const std::string& q) {
    std::vector<std::string> out;
    while (auto b = get_body(ch, q)) out.push_back(*b);
    return out;
}
}  // namespace

TEST_CASE(
    "drop-head keeps the newest; dropped heads are dead-lettered as maxlen; confirms all ack") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "dlq");
    REQUIRE(declare_args(ch, "q",
                         args({{"x-max-length", std::int32_t{3}},
                               {"x-dead-letter-exchange", ""},
                               {"x-dead-letter-routing-key", "dlq"}})));
    REQUIRE(ch.confirm_select());
    for (int i = 0; i < 5; ++i) REQUIRE(publish(ch, "", "q", "m" + std::to_string(i)));
    for (const auto& [tag, ack] : c.sink.confirms) CHECK(ack);
    CHECK(c.sink.confirms.size() == 5);
    CHECK(drain(ch, "q") == std::vector<std::string>{"m2", "m3", "m4"});
    CHECK(drain(ch, "dlq") == std::vector<std::string>{"m0", "m1"});
}

TEST_CASE("only ready messages count; a requeue into a full drop-head queue drops the head") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", args({{"x-max-length", std::int32_t{2}}})));
    REQUIRE(publish(ch, "", "q", "a"));
    REQUIRE(publish(ch, "", "q", "b"));
    protocol::basic_get g;
    g.queue = "q";
    auto a = ch.get(g).value();
    auto b = ch.get(g).value();
    REQUIRE(publish(ch, "", "q", "c"));
    REQUIRE(publish(ch, "", "q", "d"));
    CHECK(tb.count("q") == 2);
    REQUIRE(ch.nack(a->delivery_tag, false, true));  // [a c d] -> drop a
    CHECK(drain(ch, "q") == std::vector<std::string>{"c", "d"});
    (void)b;
}

TEST_CASE("x-max-length-bytes counts body bytes of ready messages only") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", args({{"x-max-length-bytes", std::int32_t{10}}})));
    protocol::basic_properties big;
    big.headers.emplace();
    big.headers->add("h", std::string(1000, 'x'));
    REQUIRE(publish(ch, "", "q", "12345", false, big));
    REQUIRE(publish(ch, "", "q", "67890"));
    CHECK(tb.queue("q")->ready_bytes() == 10);
    REQUIRE(publish(ch, "", "q", "!"));
    CHECK(drain(ch, "q") == std::vector<std::string>{"67890", "!"});
}

TEST_CASE(
    "reject-publish: refused messages are nacked, not dead-lettered; the other queue keeps them") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "dlq");
    REQUIRE(declare_args(ch, "full",
                         args({{"x-max-length", std::int32_t{1}},
                               {"x-overflow", "reject-publish"},
                               {"x-dead-letter-exchange", ""},
                               {"x-dead-letter-routing-key", "dlq"}})));
    declare(ch, "other");
    bind_queue(ch, "full", "amq.fanout", "");
    bind_queue(ch, "other", "amq.fanout", "");
    REQUIRE(ch.confirm_select());
    REQUIRE(publish(ch, "amq.fanout", "", "a"));
    REQUIRE(publish(ch, "amq.fanout", "", "b", true));
    CHECK(c.sink.confirms == std::vector<std::pair<std::uint64_t, bool>>{{1, true}, {2, false}});
    CHECK(c.sink.returned.empty());  // no basic.return even though mandatory
    CHECK(tb.count("full") == 1);
    CHECK(tb.count("other") == 2);
    CHECK(tb.count("dlq") == 0);
    // Requeues are not refused: the queue then exceeds its limit.
    protocol::basic_get g;
    g.queue = "full";
    auto r = ch.get(g).value();
    REQUIRE(publish(ch, "", "full", "c"));
    REQUIRE(ch.nack(r->delivery_tag, false, true));
    CHECK(tb.count("full") == 2);
}

TEST_CASE(
    "reject-publish-dlx dead-letters the refused message (maxlen); an oversized body into an empty "
    "queue") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "dlq");
    REQUIRE(declare_args(ch, "q",
                         args({{"x-max-length-bytes", std::int32_t{10}},
                               {"x-overflow", "reject-publish-dlx"},
                               {"x-dead-letter-exchange", ""},
                               {"x-dead-letter-routing-key", "dlq"}})));
    REQUIRE(ch.confirm_select());
    REQUIRE(publish(ch, "", "q", "01234567890"));
    CHECK(c.sink.confirms == std::vector<std::pair<std::uint64_t, bool>>{{1, false}});
    CHECK(tb.count("q") == 0);
    client c2(tb.b);
    consume(c2.channel(), "dlq", true);
    REQUIRE(c2.sink.deliveries.size() == 1);
    const auto& h = *c2.sink.deliveries[0].properties.headers;
    CHECK(*h.find("x-first-death-reason")->as_string() == "maxlen");
}

TEST_CASE(
    "reject-publish in a tx channel: commit fails with partial tx completion, the rest stays") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(
        ch, "q", args({{"x-max-length", std::int32_t{1}}, {"x-overflow", "reject-publish"}})));
    REQUIRE(ch.tx_select());
    REQUIRE(publish(ch, "", "q", "a"));
    REQUIRE(publish(ch, "", "q", "b"));
    auto r = ch.tx_commit();
    REQUIRE(!r);
    CHECK(r.error().text == "PRECONDITION_FAILED - partial tx completion");
    CHECK(c.sink.tx_commits.empty());
    CHECK(tb.count("q") == 1);
}
