// Alternate exchanges, CC/BCC routing and direct reply-to, against
// docs/rabbitmq-extensions-behaviour.md sections 7 and 8.
#include "fake_sink.hpp"

#include <algorithm>

using namespace warren;

namespace {

using V = std::vector<std::string>;

broker::result<void> xdeclare(broker::channel& ch, std::string name, std::string type,
                              protocol::field_table args = {}, bool internal = false) {
    protocol::exchange_declare d;
    d.exchange = std::move(name);
    d.type = std::move(type);
    d.arguments = std::move(args);
    d.internal = internal;
    return ch.exchange_declare(d);
}

protocol::field_table ae(std::string name) {
    protocol::field_table t;
    t.add("alternate-exchange", std::move(name));
    return t;
}

void bind(broker::channel& ch, std::string q, std::string x, std::string key = {}) {
    protocol::queue_bind m;
    m.queue = std::move(q);
    m.exchange = std::move(x);
    m.routing_key = std::move(key);
    REQUIRE(ch.queue_bind(m));
}

std::vector<broker::message_ptr> get_all(broker::channel& ch, const std::string& q) {
    std::vector<broker::message_ptr> out;
    protocol::basic_get g;
    g.queue = q;
    g.no_ack = true;
    for (;;) {
        auto r = ch.get(g);
        REQUIRE(r);
        if (!*r) return out;
        out.push_back((*r)->msg);
    }
}

V bodies(const std::vector<broker::message_ptr>& ms) {
    V out;
    for (const auto& m : ms) out.push_back(m->body);
    return out;
}

// amq.rabbitmq.reply-to.<base64>.<base64> (std::regex trips GCC 12's -Wmaybe-uninitialized).
bool reply_to_shaped(std::string_view s) {
    constexpr std::string_view prefix = "amq.rabbitmq.reply-to.";
    if (!s.starts_with(prefix)) return false;
    s.remove_prefix(prefix.size());
    auto dot = s.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == s.size()) return false;
    auto b64 = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/' || c == '=';
    };
    return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(dot), b64) &&
           std::all_of(s.begin() + static_cast<std::ptrdiff_t>(dot) + 1, s.end(), b64);
}

protocol::basic_properties with_header(std::string name, protocol::field_value v) {
    protocol::basic_properties p;
    p.headers.emplace();
    p.headers->add(std::move(name), std::move(v));
    return p;
}

}  // namespace

TEST_CASE(
    "alternate exchange: unroutable messages go there, keep their exchange and key, no return") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(xdeclare(ch, "ae", "fanout"));
    REQUIRE(xdeclare(ch, "x", "direct", ae("ae")));
    test::declare(ch, "aq");
    test::declare(ch, "mq");
    bind(ch, "aq", "ae");
    bind(ch, "mq", "x", "k");
    REQUIRE(test::publish(ch, "x", "k", "routed", true));
    REQUIRE(test::publish(ch, "x", "other", "unrouted", true));
    CHECK(c.sink.returned.empty());
    CHECK(bodies(get_all(ch, "mq")) == V{"routed"});
    auto ms = get_all(ch, "aq");
    REQUIRE(ms.size() == 1);
    CHECK(ms[0]->exchange == "x");
    CHECK(ms[0]->routing_key == "other");
}

TEST_CASE(
    "alternate exchange: missing, routing nowhere, '' and cycles give NO_ROUTE - chains are "
    "followed") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(xdeclare(ch, "x1", "direct", ae("nosuch")));
    REQUIRE(test::publish(ch, "x1", "zz", "missing", true));
    REQUIRE(xdeclare(ch, "ae3", "direct"));
    REQUIRE(xdeclare(ch, "x3", "direct", ae("ae3")));
    REQUIRE(test::publish(ch, "x3", "zz", "nowhere", true));
    test::declare(ch, "zz");
    REQUIRE(xdeclare(ch, "x8", "direct", ae("")));
    REQUIRE(test::publish(ch, "x8", "zz", "ae-empty", true));
    REQUIRE(xdeclare(ch, "x5", "direct", ae("x6")));
    REQUIRE(xdeclare(ch, "x6", "direct", ae("x5")));
    REQUIRE(test::publish(ch, "x5", "zz", "cycle", true));
    REQUIRE(xdeclare(ch, "x7", "direct", ae("x7")));
    REQUIRE(test::publish(ch, "x7", "zz", "self", true));
    CHECK(c.sink.returned == V{"missing", "nowhere", "ae-empty", "cycle", "self"});
    bind(ch, "zz", "x6", "zz");
    REQUIRE(test::publish(ch, "x5", "zz", "cyc2", true));
    // chain x4 -> ae4 (no match) -> internal fanout
    REQUIRE(xdeclare(ch, "ai", "fanout", {}, true));
    REQUIRE(xdeclare(ch, "ae4", "direct", ae("ai")));
    REQUIRE(xdeclare(ch, "x4", "direct", ae("ae4")));
    test::declare(ch, "aq");
    bind(ch, "aq", "ai");
    REQUIRE(test::publish(ch, "x4", "nokey", "chain", true));
    CHECK(c.sink.returned.size() == 5);
    CHECK(bodies(get_all(ch, "zz")) == V{"cyc2"});
    auto ms = get_all(ch, "aq");
    REQUIRE(ms.size() == 1);
    CHECK(ms[0]->exchange == "x4");
}

TEST_CASE("alternate-exchange of a non-string type is 406 - CC routes and keeps the AE out") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    protocol::field_table bad;
    bad.add("alternate-exchange", std::int32_t{1});
    auto r = xdeclare(ch, "bad", "direct", bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - invalid type 'signedint' for arg 'alternate-exchange' in exchange "
          "'bad' in vhost '/'");
    auto& ch2 = c.channel(2);
    REQUIRE(xdeclare(ch2, "ae", "fanout"));
    REQUIRE(xdeclare(ch2, "x", "direct", ae("ae")));
    test::declare(ch2, "aq");
    test::declare(ch2, "mq");
    test::declare(ch2, "bq");
    bind(ch2, "aq", "ae");
    bind(ch2, "mq", "x", "k");
    bind(ch2, "bq", "x", "b");
    protocol::field_array cc;
    cc.values.emplace_back("k");
    REQUIRE(test::publish(ch2, "x", "zz", "cc", false, with_header("CC", cc)));
    protocol::field_array bcc;
    bcc.values.emplace_back("b");
    REQUIRE(test::publish(ch2, "x", "zz", "bcc", false, with_header("BCC", bcc)));
    CHECK(bodies(get_all(ch2, "aq")).empty());
    auto m = get_all(ch2, "mq");
    REQUIRE(m.size() == 1);
    CHECK(m[0]->properties.headers->find("CC") != nullptr);
    auto bq = get_all(ch2, "bq");
    REQUIRE(bq.size() == 1);
    CHECK(bq[0]->properties.headers->find("BCC") == nullptr);  // removed before delivery
}

TEST_CASE("direct reply-to: consume rules and the 406s of RabbitMQ 3.10") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    protocol::basic_consume m;
    m.queue = "amq.rabbitmq.reply-to";
    auto r = ch.consume(m);
    REQUIRE_FALSE(r);
    CHECK(r.error().text == "PRECONDITION_FAILED - reply consumer cannot acknowledge");
    m.no_ack = true;
    m.consumer_tag = "mine";
    REQUIRE(ch.consume(m).value() == "mine");
    m.consumer_tag = "";
    m.no_ack = false;
    r = ch.consume(m);
    REQUIRE_FALSE(r);
    CHECK(r.error().text == "PRECONDITION_FAILED - reply consumer already set");
    // publish with reply_to on a channel without a reply consumer
    test::declare(ch, "rpc");
    protocol::basic_properties p;
    p.reply_to = "amq.rabbitmq.reply-to";
    auto& other = c.channel(2);
    auto pr = test::publish(other, "", "rpc", "req", false, p);
    REQUIRE_FALSE(pr);
    CHECK(pr.error().text == "PRECONDITION_FAILED - fast reply consumer does not exist");
    CHECK(b.find_vhost("/")->find_queue("rpc")->ready_count() == 0);
}

TEST_CASE("direct reply-to: round trip, mandatory reply returned too, stale names dropped") {
    broker::broker b;
    test::client client(b, "client");
    test::client server(b, "server");
    auto& cch = client.channel();
    auto& sch = server.channel();
    test::declare(sch, "rpc");
    auto tag = test::consume(cch, "amq.rabbitmq.reply-to", true, "");
    CHECK(tag.starts_with("amq.ctag-"));
    protocol::basic_properties p;
    p.reply_to = "amq.rabbitmq.reply-to";
    p.correlation_id = "c1";
    REQUIRE(test::publish(cch, "", "rpc", "req", false, p));
    auto reqs = get_all(sch, "rpc");
    REQUIRE(reqs.size() == 1);
    const std::string rt = *reqs[0]->properties.reply_to;
    CHECK(reply_to_shaped(rt));
    CHECK_FALSE(reply_to_shaped("amq.rabbitmq.reply-to.abc"));
    CHECK(*reqs[0]->properties.correlation_id == "c1");
    CHECK(rt == cch.reply_to_name());
    // the pseudo-queue and a live name answer queue.declare with 0 messages, 1 consumer
    protocol::queue_declare d;
    d.queue = rt;
    d.passive = true;
    auto ok = sch.queue_declare(d).value();
    CHECK((ok.queue == rt && ok.message_count == 0 && ok.consumer_count == 1));
    d.queue = "amq.rabbitmq.reply-to";
    d.passive = false;
    CHECK(sch.queue_declare(d).value().consumer_count == 1);

    REQUIRE(test::publish(sch, "", rt, "resp", false));
    REQUIRE(test::publish(sch, "", rt, "resp-m", true));
    REQUIRE(test::publish(sch, "amq.direct", rt, "via-direct", true));
    CHECK(client.sink.bodies() == V{"resp", "resp-m"});
    CHECK(client.sink.deliveries[0].consumer_tag == tag);
    CHECK(client.sink.deliveries[0].delivery_tag == 1);
    CHECK(server.sink.returned == V{"resp-m", "via-direct"});

    cch.cancel(tag);
    REQUIRE(test::publish(sch, "", rt, "stale", true));
    test::consume(cch, "amq.rabbitmq.reply-to", true, "again");
    const std::string rt2 = cch.reply_to_name();
    CHECK(rt2 != rt);
    CHECK(rt2.substr(0, rt2.rfind('.')) == rt.substr(0, rt.rfind('.')));  // same channel part
    REQUIRE(test::publish(sch, "", rt2, "new", false));
    client.conn.close_channel(1);
    REQUIRE(test::publish(sch, "", rt2, "closed", true));
    REQUIRE(test::publish(sch, "", "amq.rabbitmq.reply-to.garbage", "bogus", true));
    CHECK(client.sink.bodies() == V{"resp", "resp-m", "new"});
    CHECK(server.sink.returned == V{"resp-m", "via-direct", "stale", "closed", "bogus"});
    d.queue = rt2;
    d.passive = true;
    auto nf = sch.queue_declare(d);
    REQUIRE_FALSE(nf);
    CHECK(nf.error().text == "NOT_FOUND - no queue '" + rt2 + "' in vhost '/'");
}
