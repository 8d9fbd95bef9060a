// Priority queues (x-max-priority), consumer priorities (x-priority) and single active consumer
// (x-single-active-consumer), against docs/rabbitmq-extensions-behaviour.md sections 6, 9, 10.
#include "fake_sink.hpp"

#include <optional>

using namespace warren;

namespace {

broker::result<protocol::queue_declare_ok> declare_with(broker::channel& ch, std::string name,
                                                        protocol::field_table args) {
    protocol::queue_declare d;
    d.queue = std::move(name);
    d.arguments = std::move(args);
    return ch.queue_declare(d);
}

protocol::field_table args1(std::string key, protocol::field_value v) {
    protocol::field_table t;
    t.add(std::move(key), std::move(v));
    return t;
}

broker::result<std::string> consume_with(broker::channel& ch, std::string queue, std::string tag,
                                         protocol::field_table args, bool no_ack = false) {
    protocol::basic_consume c;
    c.queue = std::move(queue);
    c.consumer_tag = std::move(tag);
    c.no_ack = no_ack;
    c.arguments = std::move(args);
    auto r = ch.consume(c);
    if (r) ch.start_consumer(*r);
    return r;
}

void publish_prio(broker::channel& ch, const std::string& q, std::string body,
                  std::optional<std::uint8_t> prio) {
    protocol::basic_properties p;
    p.priority = prio;
    REQUIRE(test::publish(ch, "", q, std::move(body), false, std::move(p)));
}

std::vector<std::string> get_all(broker::channel& ch, const std::string& q) {
    std::vector<std::string> out;
    protocol::basic_get g;
    g.queue = q;
    g.no_ack = true;
    for (;;) {
        auto r = ch.get(g);
        REQUIRE(r);
        if (!*r) return out;
        out.push_back((*r)->msg->body);
    }
}

using V = std::vector<std::string>;

const std::vector<std::pair<std::optional<std::uint8_t>, std::string>> order = {
    {std::nullopt, "n0"},
    {1, "p1"},
    {5, "p5"},
    {9, "p9"},
    {0, "p0"},
    {3, "p3"},
    {255, "p255"},
    {5, "p5b"},
    {std::nullopt, "n1"},
    {6, "p6"}};

}  // namespace

TEST_CASE("x-max-priority: highest first, above max counts as max, absent counts as 0") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(declare_with(ch, "pq", args1("x-max-priority", std::int32_t{5})));
    for (const auto& [p, body] : order) publish_prio(ch, "pq", body, p);
    auto q = b.find_vhost("/")->find_queue("pq");
    CHECK(q->max_priority() == 5);
    CHECK(q->ready().size() == 10);
    CHECK(q->ready().bytes() == 23);
    CHECK(get_all(ch, "pq") == V{"p5", "p9", "p255", "p5b", "p6", "p3", "p1", "n0", "p0", "n1"});
    CHECK(q->ready().bytes() == 0);
}

TEST_CASE("without x-max-priority, or with 0, priorities are ignored") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(declare_with(ch, "fifo", {}));
    REQUIRE(declare_with(ch, "zero", args1("x-max-priority", std::int8_t{0})));
    V fifo;
    for (const auto& [p, body] : order) {
        publish_prio(ch, "fifo", body, p);
        publish_prio(ch, "zero", body, p);
        fifo.push_back(body);
    }
    CHECK(get_all(ch, "fifo") == fifo);
    CHECK(get_all(ch, "zero") == fifo);
}

TEST_CASE("priority queue: prefetch takes the highest - requeue goes back within its priority") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(declare_with(ch, "pq", args1("x-max-priority", std::int32_t{5})));
    for (const auto& [p, body] : order) publish_prio(ch, "pq", body, p);
    auto& ch2 = c.channel(2);
    test::qos(ch2, 2);
    test::consume(ch2, "pq", false, "t");
    CHECK(c.sink.bodies() == V{"p5", "p9"});
    publish_prio(ch, "pq", "late0", 0);
    publish_prio(ch, "pq", "late5", 5);
    REQUIRE(ch2.ack(2, true));
    CHECK(c.sink.bodies() == V{"p5", "p9", "p255", "p5b"});
    REQUIRE(ch2.nack(4, true, true));
    REQUIRE(c.sink.deliveries.size() == 6);
    CHECK(c.sink.deliveries[4].body == "p255");
    CHECK(c.sink.deliveries[4].redelivered);
    CHECK(c.sink.deliveries[5].body == "p5b");
    ch2.cancel("t");
    CHECK(get_all(ch, "pq") == V{"p6", "late5", "p3", "p1", "n0", "p0", "n1", "late0"});
}

TEST_CASE("priority queue: requeued messages return to their original place in their priority") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(declare_with(ch, "pq", args1("x-max-priority", std::int32_t{5})));
    for (auto body : {"a", "b", "c"}) publish_prio(ch, "pq", body, 2);
    protocol::basic_get g;
    g.queue = "pq";
    for (int i = 0; i < 3; ++i) REQUIRE(ch.get(g).value());
    REQUIRE(ch.reject(3, true));
    REQUIRE(ch.reject(1, true));
    publish_prio(ch, "pq", "d", 2);
    publish_prio(ch, "pq", "low", 1);
    CHECK(get_all(ch, "pq") == V{"a", "c", "d", "low"});
    REQUIRE(ch.recover(true));
    CHECK(get_all(ch, "pq") == V{"b"});
}

TEST_CASE("x-max-priority and x-single-active-consumer validation: RabbitMQ's 406 texts") {
    broker::broker b;
    test::client c(b);
    auto text = [&](const char* arg, protocol::field_value v) {
        auto& ch = c.channel();
        auto r = declare_with(ch, "vq", args1(arg, std::move(v)));
        std::string t = r ? "ok" : r.error().text;
        if (!r) {
            CHECK(r.error().code == protocol::reply_code::precondition_failed);
            c.conn.close_channel(1);
        } else {
            auto q = b.find_vhost("/")->find_queue("vq");
            b.find_vhost("/")->delete_queue(*q);
        }
        return t;
    };
    const std::string pre = "PRECONDITION_FAILED - invalid arg '";
    const std::string vq = "' for queue 'vq' in vhost '/': ";
    CHECK(text("x-max-priority", std::int32_t{256}) ==
          pre + "x-max-priority" + vq + "{max_value_exceeded,256}");
    CHECK(text("x-max-priority", std::int64_t{1} << 40) ==
          pre + "x-max-priority" + vq + "{max_value_exceeded,1099511627776}");
    CHECK(text("x-max-priority", std::int32_t{-1}) ==
          pre + "x-max-priority" + vq + "{value_negative,-1}");
    CHECK(text("x-max-priority", "5") ==
          pre + "x-max-priority" + vq + "\"expected integer, got longstr\"");
    CHECK(text("x-max-priority", 1.5) ==
          pre + "x-max-priority" + vq + "\"expected integer, got double\"");
    CHECK(text("x-max-priority", std::int32_t{255}) == "ok");
    CHECK(text("x-max-priority", std::int8_t{10}) == "ok");
    CHECK(text("x-single-active-consumer", "true") ==
          pre + "x-single-active-consumer" + vq + "{unacceptable_type,longstr}");
    CHECK(text("x-single-active-consumer", std::int32_t{1}) ==
          pre + "x-single-active-consumer" + vq + "{unacceptable_type,signedint}");
    CHECK(text("x-single-active-consumer", std::int8_t{1}) ==
          pre + "x-single-active-consumer" + vq + "{unacceptable_type,byte}");
    CHECK(text("x-single-active-consumer", false) == "ok");
}

TEST_CASE("consumer priorities: the highest with credit first, equal ones round-robin") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    test::declare(ch, "q");
    auto& hi = c.channel(2);
    test::qos(hi, 2);
    REQUIRE(consume_with(hi, "q", "hi", args1("x-priority", std::int32_t{10})));
    auto& lo = c.channel(3);
    REQUIRE(consume_with(lo, "q", "lo", args1("x-priority", std::int8_t{1}), true));
    auto& lo2 = c.channel(4);
    REQUIRE(consume_with(lo2, "q", "lo2", args1("x-priority", std::int64_t{1}), true));
    for (int i = 0; i < 6; ++i) REQUIRE(test::publish(ch, "", "q", "m" + std::to_string(i)));
    std::vector<std::string> tags;
    for (const auto& d : c.sink.deliveries) tags.push_back(d.consumer_tag);
    CHECK(tags == V{"hi", "hi", "lo", "lo2", "lo", "lo2"});
    REQUIRE(hi.ack(2, true));  // credit again: hi is preferred
    REQUIRE(test::publish(ch, "", "q", "n0"));
    CHECK(c.sink.deliveries.back().consumer_tag == "hi");
}

TEST_CASE("consumer priorities: negative is below the default - invalid x-priority is 406") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    test::declare(ch, "q");
    REQUIRE(consume_with(c.channel(2), "q", "neg", args1("x-priority", std::int32_t{-1}), true));
    REQUIRE(consume_with(c.channel(3), "q", "zero", {}, true));
    for (int i = 0; i < 3; ++i) REQUIRE(test::publish(ch, "", "q", "z"));
    for (const auto& d : c.sink.deliveries) CHECK(d.consumer_tag == "zero");
    auto r = consume_with(c.channel(4), "q", "bad", args1("x-priority", "5"));
    REQUIRE_FALSE(r);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost '/': \"expected "
          "integer, got longstr\"");
    r = consume_with(c.channel(5), "q", "bad", args1("x-cancel-on-ha-failover", "x"));
    REQUIRE_FALSE(r);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - invalid arg 'x-cancel-on-ha-failover' for queue 'q' in vhost '/': "
          "{unacceptable_type,longstr}");
    r = consume_with(c.channel(6), "q", "bad", args1("x-stream-offset", std::int32_t{5}));
    REQUIRE_FALSE(r);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 'q' in vhost '/' of queue "
          "type "
          "rabbit_classic_queue");
}

TEST_CASE("single active consumer: only the first registered - failover on cancel and close") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(declare_with(ch, "sac", args1("x-single-active-consumer", true)));
    auto& c2 = c.channel(2);
    auto& c3 = c.channel(3);
    auto& c4 = c.channel(4);
    REQUIRE(consume_with(c2, "sac", "c2", args1("x-priority", std::int32_t{1})));
    REQUIRE(consume_with(c3, "sac", "c3", args1("x-priority", std::int32_t{10})));
    REQUIRE(consume_with(c4, "sac", "c4", {}));
    for (int i = 0; i < 3; ++i) REQUIRE(test::publish(ch, "", "sac", "m" + std::to_string(i)));
    for (const auto& d : c.sink.deliveries) CHECK(d.consumer_tag == "c2");
    c2.cancel("c2");  // c3 is active at once, although c2 still holds three unacked
    CHECK(c2.unacked_count() == 3);
    REQUIRE(test::publish(ch, "", "sac", "n0"));
    CHECK(c.sink.deliveries.back().consumer_tag == "c3");
    c.conn.close_channel(2);  // c2's messages are requeued to c3, in order, redelivered
    REQUIRE(c.sink.deliveries.size() == 7);
    for (std::size_t i = 4; i < 7; ++i) {
        CHECK(c.sink.deliveries[i].consumer_tag == "c3");
        CHECK(c.sink.deliveries[i].redelivered);
        CHECK(c.sink.deliveries[i].body == "m" + std::to_string(i - 4));
    }
    c.conn.close_channel(3);
    REQUIRE(c.sink.deliveries.size() == 11);
    CHECK(c.sink.deliveries[7].consumer_tag == "c4");
    CHECK(c.sink.deliveries[10].body == "n0");
}

TEST_CASE("single active consumer: prefetch holds the others back - basic.get bypasses it") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(declare_with(ch, "sac", args1("x-single-active-consumer", true)));
    auto& a = c.channel(2);
    test::qos(a, 1);
    REQUIRE(consume_with(a, "sac", "a", {}));
    REQUIRE(consume_with(c.channel(3), "sac", "b", {}, true));
    for (int i = 0; i < 3; ++i) REQUIRE(test::publish(ch, "", "sac", "x" + std::to_string(i)));
    CHECK(c.sink.bodies() == V{"x0"});
    protocol::basic_get g;
    g.queue = "sac";
    g.no_ack = true;
    CHECK(ch.get(g).value()->msg->body == "x1");
    REQUIRE(a.ack(1, false));
    CHECK(c.sink.bodies() == V{"x0", "x2"});
    CHECK(c.sink.deliveries.back().consumer_tag == "a");
}
