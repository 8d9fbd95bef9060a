// Dead-lettering: x-death / x-first-death-* exactly as RabbitMQ 3.10 writes them, routing keys
// (incl. CC/BCC), missing DLX, cycles.
#include "ext_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using namespace warren::test;
using protocol::field_array;
using protocol::field_table;

namespace {

std::vector<std::string> keys_of(const field_table& t) {
    std::vector<std::string> out;
    for (const auto& e : t.entries) out.push_back(e.name);
    return out;
}

const field_array& x_death(const delivery_event& d) {
    REQUIRE(d.properties.headers);
    const auto* v = d.properties.headers->find("x-death");
    REQUIRE(v);
    const auto* a = v->get_if<field_array>();
    REQUIRE(a);
    return *a;
}

const field_table& entry(const field_array& a, std::size_t i) {
    REQUIRE(i < a.values.size());
    const auto* t = a.values[i].get_if<field_table>();
    REQUIRE(t);
    return *t;
}

std::string str(const field_table& t, std::string_view k) {
    const auto* v = t.find(k);
    REQUIRE(v);
    REQUIRE(v->type_tag() == 'S');
    return *v->as_string();
}

}  // namespace

TEST_CASE("reject without requeue dead-letters with a first-death x-death entry") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "dlq");
    REQUIRE(declare_args(ch, "src", args({{"x-dead-letter-exchange", "amq.direct"}})));
    bind_queue(ch, "dlq", "amq.direct", "src");
    protocol::basic_properties p = expiring("100000");
    p.headers.emplace();
    p.headers->add("z", "last");
    p.headers->add("a", "first");
    REQUIRE(publish(ch, "", "src", "m", false, p));
    protocol::basic_get g;
    g.queue = "src";
    auto r = ch.get(g).value();
    REQUIRE(r);
    REQUIRE(ch.reject(r->delivery_tag, false));
    CHECK(tb.count("src") == 0);
    REQUIRE(tb.count("dlq") == 1);

    client c2(tb.b);
    consume(c2.channel(), "dlq", true);
    REQUIRE(c2.sink.deliveries.size() == 1);
    const auto& d = c2.sink.deliveries[0];
    CHECK(d.exchange == "amq.direct");
    CHECK(d.routing_key == "src");
    CHECK(!d.properties.expiration);  // removed, kept as original-expiration
    CHECK(keys_of(*d.properties.headers) ==
          std::vector<std::string>{"a", "x-death", "x-first-death-exchange", "x-first-death-queue",
                                   "x-first-death-reason", "z"});
    CHECK(str(*d.properties.headers, "x-first-death-exchange") == "");
    CHECK(str(*d.properties.headers, "x-first-death-queue") == "src");
    CHECK(str(*d.properties.headers, "x-first-death-reason") == "rejected");
    const auto& e = entry(x_death(d), 0);
    CHECK(keys_of(e) == std::vector<std::string>{"count", "reason", "queue", "time", "exchange",
                                                 "routing-keys", "original-expiration"});
    CHECK(e.find("count")->type_tag() == 'l');
    CHECK(e.find("count")->as_integer() == 1);
    CHECK(str(e, "reason") == "rejected");
    CHECK(e.find("time")->type_tag() == 'T');
    CHECK(e.find("time")->get_if<protocol::timestamp>()->seconds == 1764000000);
    CHECK(str(e, "original-expiration") == "100000");
    const auto* rk = e.find("routing-keys")->get_if<field_array>();
    REQUIRE(rk);
    CHECK(rk->values.size() == 1);
    CHECK(*rk->values[0].as_string() == "src");
}

TEST_CASE("expiry dead-letters (reason expired); a later death prepends a key-sorted entry") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(
        ch, "src2", args({{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "q2"}})));
    REQUIRE(declare_args(ch, "q2",
                         args({{"x-message-ttl", std::int32_t{100}},
                               {"x-dead-letter-exchange", ""},
                               {"x-dead-letter-routing-key", "final"}})));
    declare(ch, "final");
    REQUIRE(publish(ch, "", "src2", "m", false, expiring("100000")));
    protocol::basic_get g;
    g.queue = "src2";
    REQUIRE(ch.reject(ch.get(g).value()->delivery_tag, false));
    CHECK(tb.count("q2") == 1);
    tb.advance(100);
    CHECK(tb.count("q2") == 0);
    REQUIRE(tb.count("final") == 1);
    consume(ch, "final", true);
    const auto& d = c.sink.deliveries.at(0);
    const auto& deaths = x_death(d);
    REQUIRE(deaths.values.size() == 2);
    const auto& newest = entry(deaths, 0);
    CHECK(keys_of(newest) ==
          std::vector<std::string>{"count", "exchange", "queue", "reason", "routing-keys", "time"});
    CHECK(str(newest, "queue") == "q2");
    CHECK(str(newest, "reason") == "expired");
    const auto& oldest = entry(deaths, 1);
    CHECK(keys_of(oldest) == std::vector<std::string>{"count", "reason", "queue", "time",
                                                      "exchange", "routing-keys",
                                                      "original-expiration"});
    CHECK(str(*d.properties.headers, "x-first-death-queue") == "src2");
}

TEST_CASE("repeated rejects into the same queue: one entry, count grows, never dropped") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "loop", args({{"x-dead-letter-exchange", ""}})));
    REQUIRE(publish(ch, "", "loop", "m"));
    protocol::basic_get g;
    g.queue = "loop";
    for (int i = 0; i < 3; ++i) {
        auto r = ch.get(g).value();
        REQUIRE(r);
        REQUIRE(ch.reject(r->delivery_tag, false));
        tb.b.flush_events();  // as a session does after each frame: the dead letter is routed
    }
    auto r = ch.get(g).value();
    REQUIRE(r);
    const auto& deaths = *r->msg->properties.headers->find("x-death")->get_if<field_array>();
    CHECK(deaths.values.size() == 1);
    CHECK(deaths.values[0].get_if<field_table>()->find("count")->as_integer() == 3);
}

TEST_CASE("cycles: an expiry back into the same queue is dropped at once") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(
        ch, "self", args({{"x-message-ttl", std::int32_t{10}}, {"x-dead-letter-exchange", ""}})));
    REQUIRE(publish(ch, "", "self", "m"));
    tb.advance(10);
    CHECK(tb.count("self") == 0);
    CHECK(tb.advance(100) == broker::never);
}

TEST_CASE("missing DLX drops; DL routing uses CC and BCC keys, x-death lists key + CC only") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    REQUIRE(declare_args(ch, "gone", args({{"x-dead-letter-exchange", "no-such-exchange"}})));
    REQUIRE(publish(ch, "", "gone", "m"));
    protocol::basic_get g;
    g.queue = "gone";
    REQUIRE(ch.reject(ch.get(g).value()->delivery_tag, false));
    CHECK(tb.count("gone") == 0);

    REQUIRE(declare_args(ch, "src", args({{"x-dead-letter-exchange", "amq.direct"}})));
    for (const char* q : {"k-main", "k-cc", "k-bcc"})
        bind_queue(ch, declare(ch, q), "amq.direct", q);
    bind_queue(ch, "src", "amq.direct", "k-main");
    protocol::basic_properties p;
    p.headers.emplace();
    field_array cc, bcc;
    cc.values.emplace_back("k-cc");
    bcc.values.emplace_back("k-bcc");
    p.headers->add("CC", cc);
    p.headers->add("BCC", bcc);
    REQUIRE(publish(ch, "amq.direct", "k-main", "m", false, p));
    CHECK(tb.count("k-main") == 1);
    CHECK(tb.count("k-cc") == 1);
    CHECK(tb.count("k-bcc") == 1);
    g.queue = "src";
    auto r = ch.get(g).value();
    REQUIRE(r);
    CHECK(!r->msg->properties.headers->find("BCC"));  // stripped at publish
    REQUIRE(ch.reject(r->delivery_tag, false));
    CHECK(tb.count("k-main") == 2);
    CHECK(tb.count("k-cc") == 2);
    CHECK(tb.count("k-bcc") == 2);
    g.queue = "k-bcc";
    (void)ch.get(g);
    auto dl = ch.get(g).value();
    REQUIRE(dl);
    const auto& e = *dl->msg->properties.headers->find("x-death")
                         ->get_if<field_array>()
                         ->values[0]
                         .get_if<field_table>();
    CHECK(e.find("routing-keys")->get_if<field_array>()->values.size() == 2);
}

TEST_CASE("no dead-lettering on requeue, purge or delete") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    declare(ch, "dlq");
    REQUIRE(declare_args(
        ch, "src", args({{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "dlq"}})));
    REQUIRE(publish(ch, "", "src", "a"));
    protocol::basic_get g;
    g.queue = "src";
    REQUIRE(ch.nack(ch.get(g).value()->delivery_tag, false, true));
    protocol::queue_purge pu;
    pu.queue = "src";
    CHECK(ch.queue_purge(pu).value() == 1);
    CHECK(tb.count("dlq") == 0);
}
