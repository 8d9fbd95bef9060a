#include "fake_sink.hpp"

#include <warren/broker/exchange.hpp>

using namespace warren;
using broker::topic_matches;

TEST_CASE("topic patterns follow RabbitMQ's word rules") {
    CHECK(topic_matches("#", ""));
    CHECK_FALSE(topic_matches("*", ""));  // the empty key has zero words
    CHECK(topic_matches("*", "a"));
    CHECK_FALSE(topic_matches("*", "a.b"));
    CHECK(topic_matches("a.*", "a.b"));
    CHECK_FALSE(topic_matches("a.*", "a"));
    CHECK(topic_matches("a.#", "a"));
    CHECK(topic_matches("a.#", "a.b.c"));
    CHECK(topic_matches("a.#.b", "a.b"));
    CHECK(topic_matches("a.#.b", "a.x.y.b"));
    CHECK_FALSE(topic_matches("a.#.b", "a.x.y.c"));
    CHECK(topic_matches("#.#", ""));
    CHECK(topic_matches("#.#", "a.b"));
    CHECK(topic_matches("*.*", "a."));  // "a." is two words: "a" and ""
    CHECK(topic_matches("a.*.c", "a..c"));
    CHECK(topic_matches("*.critical", "kern.critical"));
    CHECK_FALSE(topic_matches("*.critical", "critical"));
    CHECK(topic_matches("kern.*", "kern.info"));
    CHECK(topic_matches("exact.key", "exact.key"));
    CHECK_FALSE(topic_matches("exact.key", "exact.keys"));
    // Many '#' must not blow up.
    CHECK_FALSE(topic_matches("#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.x",
                              "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.y"));
}

TEST_CASE("headers exchange matching: x-match all / any, x- keys ignored, void = presence") {
    protocol::field_table all;
    all.add("x-match", "all");
    all.add("format", "pdf");
    all.add("type", "report");
    protocol::field_table any = all;
    any.set("x-match", "any");
    protocol::field_table h;
    h.add("format", "pdf");
    CHECK_FALSE(broker::headers_match(all, &h));
    CHECK(broker::headers_match(any, &h));
    h.add("type", "report");
    CHECK(broker::headers_match(all, &h));
    CHECK_FALSE(broker::headers_match(all, nullptr));

    protocol::field_table none;  // no conditions: all matches everything, any nothing
    CHECK(broker::headers_match(none, nullptr));
    none.add("x-match", "any");
    CHECK_FALSE(broker::headers_match(none, &h));

    protocol::field_table numeric;
    numeric.add("n", std::int32_t{5});
    protocol::field_table hn;
    hn.add("n", std::int64_t{5});
    CHECK(broker::headers_match(numeric, &hn));  // numbers compare by value, as Erlang's ==

    protocol::field_table presence;
    presence.add("flag", protocol::field_value{});
    protocol::field_table hf;
    hf.add("flag", "anything");
    CHECK(broker::headers_match(presence, &hf));
}

TEST_CASE("direct, fanout, topic and exchange-to-exchange routing through a channel") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q1 = test::declare(ch, "q1");
    auto q2 = test::declare(ch, "q2");
    auto bind = [&](std::string q, std::string x, std::string key) {
        protocol::queue_bind m;
        m.queue = q;
        m.exchange = x;
        m.routing_key = key;
        REQUIRE(ch.queue_bind(m));
    };
    protocol::exchange_declare xd;
    xd.exchange = "logs";
    xd.type = "fanout";
    REQUIRE(ch.exchange_declare(xd));
    bind(q1, "logs", "");
    bind(q2, "logs", "ignored");
    bind(q1, "amq.direct", "error");
    bind(q2, "amq.topic", "*.critical");

    REQUIRE(test::publish(ch, "logs", "x", "fan"));
    REQUIRE(test::publish(ch, "amq.direct", "error", "direct"));
    REQUIRE(test::publish(ch, "amq.topic", "kern.critical", "topic"));
    REQUIRE(test::publish(ch, "", "q2", "default"));
    auto& vh = *b.find_vhost("/");
    CHECK(vh.find_queue("q1")->ready_count() == 2);
    CHECK(vh.find_queue("q2")->ready_count() == 3);

    // exchange-to-exchange, with a loop that must not hang and a queue reached twice once
    protocol::exchange_bind eb;
    eb.destination = "logs";
    eb.source = "amq.fanout";
    REQUIRE(ch.exchange_bind(eb));
    eb.destination = "amq.fanout";
    eb.source = "logs";
    REQUIRE(ch.exchange_bind(eb));
    bind(q1, "amq.fanout", "");
    REQUIRE(test::publish(ch, "amq.fanout", "k", "e2e"));
    CHECK(vh.find_queue("q1")->ready_count() == 3);
    CHECK(vh.find_queue("q2")->ready_count() == 4);
}

TEST_CASE("mandatory unroutable messages are returned, then confirmed") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    REQUIRE(ch.confirm_select());
    REQUIRE(test::publish(ch, "amq.direct", "nobody", "lost", true));
    REQUIRE(test::publish(ch, "amq.direct", "nobody", "dropped", false));
    CHECK(c.sink.returned == std::vector<std::string>{"lost"});
    REQUIRE(c.sink.confirms.size() == 2);
    CHECK(c.sink.confirms[0] == std::pair<std::uint64_t, bool>{1, true});
    CHECK(c.sink.confirms[1] == std::pair<std::uint64_t, bool>{2, true});
}

TEST_CASE("publishing to a missing or internal exchange is a channel error") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto r = test::publish(ch, "missing", "k", "x");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == protocol::reply_code::not_found);
    CHECK(r.error().text == "NOT_FOUND - no exchange 'missing' in vhost '/'");
    r = test::publish(ch, "amq.rabbitmq.trace", "k", "x");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == protocol::reply_code::access_refused);
}

TEST_CASE(
    "key_index finds every key after inserts and erases in any order (backward-shift deletion)") {
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) keys.push_back("queue-" + std::to_string(i * 7919 % 10007));
    std::vector<int> values(keys.size());
    broker::detail::key_index<int> index;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        values[i] = static_cast<int>(i);
        index.insert(&keys[i], &values[i]);
    }
    CHECK(index.size() == keys.size());
    // Erase two thirds, in an order unrelated to insertion, then check every key.
    std::vector<bool> present(keys.size(), true);
    for (std::size_t n = 0; n < keys.size(); ++n) {
        const std::size_t i = n * 1237 % keys.size();
        if (i % 3 != 0) {
            index.erase(keys[i]);
            present[i] = false;
        }
    }
    index.erase("not-there");
    std::size_t found = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto* v = index.find(keys[i], broker::detail::key_hash(keys[i]));
        if (present[i]) {
            REQUIRE(v != nullptr);
            CHECK(*v == static_cast<int>(i));
            CHECK(index.peek(broker::detail::key_hash(keys[i])).second != nullptr);
            ++found;
        } else {
            CHECK(v == nullptr);
        }
    }
    CHECK(found == index.size());
    CHECK(index.find("queue-x", broker::detail::key_hash("queue-x")) == nullptr);
    // Re-insert what was erased: the table is still consistent.
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!present[i]) index.insert(&keys[i], &values[i]);
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto* v = index.find(keys[i], broker::detail::key_hash(keys[i]));
        REQUIRE(v != nullptr);
        CHECK(*v == static_cast<int>(i));
    }
}
