// Quorum queues (docs/rabbitmq-extensions-behaviour.md §14): x-delivery-count, x-delivery-limit
// (dead-lettering with reason delivery_limit, or dropping), requeue order, declare rules.
#include "ext_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using namespace warren::test;
using protocol::field_array;
using protocol::field_table;

namespace {

protocol::field_table quorum_args(
    std::initializer_list<std::pair<const char*, protocol::field_value>> more = {}) {
    auto a = args({{"x-queue-type", "quorum"}});
    for (const auto& [k, v] : more) a.add(k, v);
    return a;
}

std::optional<std::int64_t> count_header(const protocol::basic_properties& p) {
    if (!p.headers) return std::nullopt;
    const auto* v = p.headers->find("x-delivery-count");
    if (!v) return std::nullopt;
    REQUIRE(v->type_tag() == 'l');
    return v->as_integer();
}

std::vector<std::string> keys_of(const field_table& t) {
    std::vector<std::string> out;
    for (const auto& e : t.entries) out.push_back(e.name);
    return out;
}

/// basic.get (no_ack=false): the x-delivery-count it carries and its tag; nullopt when empty.
std::optional<std::pair<std::int64_t, std::uint64_t>> get_counted(broker::channel& ch,
                                                                  std::string q) {
    protocol::basic_get g;
    g.queue = std::move(q);
    auto r = ch.get(g).value();
    if (!r) return std::nullopt;
    auto n = count_header(r->msg->properties);
    REQUIRE(n);
    return std::pair{*n, r->delivery_tag};
}

}  // namespace

TEST_CASE(
    "quorum: declare requires durable, not exclusive/auto-delete; refuses classic-only args") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    auto r = declare_args(ch, "q", quorum_args());
    REQUIRE(!r);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'q' in vhost '/'");
    r = declare_args(c.channel(2), "q", quorum_args({{"x-max-priority", 5}}), true);
    REQUIRE(!r);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in "
          "vhost '/' of queue type rabbit_quorum_queue");
    REQUIRE(declare_args(c.channel(3), "q", quorum_args({{"x-delivery-limit", "3"}}), true));
    CHECK(tb.queue("q")->quorum());
    CHECK(!tb.queue("q")->limits().delivery_limit);  // a string never limits
}

TEST_CASE("quorum: x-delivery-count on gets (0 first) and on redeliveries, headers sorted") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", quorum_args(), true));
    protocol::basic_properties p;
    p.headers.emplace();
    p.headers->add("z", 1);
    p.headers->add("a", 2);
    REQUIRE(publish(ch, "", "q", "m", false, p));
    for (std::int64_t n = 0; n < 3; ++n) {
        auto got = get_counted(ch, "q");
        REQUIRE(got);
        CHECK(got->first == n);
        REQUIRE(ch.reject(got->second, true));
    }
    // A consumer: the header appears once the message was returned; the stored message is
    // never changed (the delivery carries a copy).
    client c2(tb.b);
    consume(c2.channel(), "q");
    REQUIRE(c2.sink.deliveries.size() == 1);
    const auto& d = c2.sink.deliveries[0];
    CHECK(d.redelivered);
    CHECK(count_header(d.properties) == 3);
    CHECK(keys_of(*d.properties.headers) == std::vector<std::string>{"a", "x-delivery-count", "z"});
}

TEST_CASE("quorum: returned messages go to the back, in return order") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", quorum_args(), true));
    for (auto b : {"a", "b", "c", "d"}) REQUIRE(publish(ch, "", "q", b));
    std::vector<std::uint64_t> tags;
    for (int i = 0; i < 3; ++i) tags.push_back(get_counted(ch, "q")->second);
    REQUIRE(ch.reject(tags[1], true));
    REQUIRE(ch.reject(tags[0], true));
    REQUIRE(ch.reject(tags[2], true));
    std::vector<std::string> order;
    while (auto b = get_body(ch, "q")) order.push_back(*b);
    CHECK(order == std::vector<std::string>{"d", "b", "a", "c"});
}

TEST_CASE("quorum: x-delivery-limit drops after limit+1 deliveries without a DLX") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", quorum_args({{"x-delivery-limit", 2}}), true));
    REQUIRE(publish(ch, "", "q", "m"));
    std::vector<std::int64_t> seen;
    while (auto got = get_counted(ch, "q")) {
        seen.push_back(got->first);
        REQUIRE(ch.nack(got->second, false, true));
    }
    CHECK(seen == std::vector<std::int64_t>{0, 1, 2});
    CHECK(tb.count("q") == 0);
}

TEST_CASE(
    "quorum: x-delivery-limit dead-letters with reason delivery_limit; channel close counts") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "dlq");
    REQUIRE(declare_args(ch, "q",
                         quorum_args({{"x-delivery-limit", 1},
                                      {"x-dead-letter-exchange", ""},
                                      {"x-dead-letter-routing-key", "dlq"}}),
                         true));
    REQUIRE(publish(ch, "", "q", "m"));
    for (std::uint16_t id = 2; id < 4; ++id) {
        auto& other = c.channel(id);
        REQUIRE(get_counted(other, "q"));
        c.conn.close_channel(id);  // requeues its unacked get: a return
    }
    CHECK(tb.count("q") == 0);
    REQUIRE(tb.count("dlq") == 1);
    client c2(tb.b);
    consume(c2.channel(), "dlq", true);
    REQUIRE(c2.sink.deliveries.size() == 1);
    const auto& h = *c2.sink.deliveries[0].properties.headers;
    CHECK(keys_of(h) == std::vector<std::string>{"x-death", "x-first-death-exchange",
                                                 "x-first-death-queue", "x-first-death-reason"});
    CHECK(*h.find("x-first-death-reason")->as_string() == "delivery_limit");
    const auto& e = *h.find("x-death")->get_if<field_array>()->values[0].get_if<field_table>();
    CHECK(*e.find("reason")->as_string() == "delivery_limit");
    CHECK(*e.find("queue")->as_string() == "q");
}

TEST_CASE("quorum: unsettled basic.get counts as a consumer in declare-ok") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "q", quorum_args(), true));
    REQUIRE(publish(ch, "", "q", "a"));
    REQUIRE(publish(ch, "", "q", "b"));
    auto t1 = get_counted(ch, "q")->second;
    CHECK(declare_args(ch, "q", quorum_args(), true).value().consumer_count == 1);
    REQUIRE(ch.ack(t1, false));
    CHECK(declare_args(ch, "q", quorum_args(), true).value().consumer_count == 0);
}
