// Declare/bind/publish/consume/ack round trips, get, tx, errors, close.
#include "suite_support.hpp"

#include <doctest/doctest.h>
#include <iterator>
#include <string>
#include <vector>

using namespace warren;
using protocol::reply_code;
using warren::test::world;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> round_trip(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    const auto ex = w.unique("direct");
    co_await ch.declare_exchange(ex, exchange_type::direct);
    auto q = co_await ch.declare_queue("", {.durable = true, .exclusive = true});
    CHECK(q.name.starts_with("amq.gen-"));
    CHECK(q.message_count == 0);
    co_await ch.bind_queue(q.name, ex, "error");
    auto stream = co_await ch.consume(q.name);

    basic_properties props;
    props.content_type = "text/plain";
    props.content_encoding = "utf-8";
    props.headers = field_table{};
    props.headers->add("x-answer", std::int32_t{42});
    props.headers->add("x-name", "warren");
    props.priority = 3;
    props.correlation_id = "corr-1";
    props.reply_to = "replies";
    props.expiration = "60000";
    props.message_id = "m-1";
    props.timestamp = 1700000000;
    props.type = "greeting";
    props.user_id = "guest";
    props.app_id = "tests";
    co_await ch.publish(ex, "info", "dropped: no binding");
    co_await ch.publish(ex, "error", "disk full", props, {.persistent = true});

    auto d = co_await stream.next();
    REQUIRE(d);
    CHECK(d->body() == "disk full");
    CHECK(d->exchange() == ex);
    CHECK(d->routing_key() == "error");
    CHECK_FALSE(d->redelivered());
    CHECK(d->delivery_tag() == 1);
    CHECK(d->consumer_tag() == stream.tag());
    auto expected = props;
    expected.delivery_mode = 2;
    CHECK(d->properties() == expected);
    co_await d->ack();
    co_await stream.cancel();
    CHECK_FALSE(co_await stream.next());
    auto after = co_await ch.declare_queue(q.name, {.passive = true});
    CHECK(after.message_count == 0);
    co_await ch.delete_exchange(ex);
    co_await conn.close();
    CHECK_FALSE(conn.is_open());
}

asio::awaitable<void> large_message(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    std::string body(300 * 1024 + 7, 'x');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    co_await ch.publish("", q.name, body);
    co_await ch.publish("", q.name, "");
    auto stream = co_await ch.consume(q.name, {.no_ack = true});
    auto d1 = co_await stream.next();
    auto d2 = co_await stream.next();
    REQUIRE(d1);
    REQUIRE(d2);
    CHECK(d1->body() == body);
    CHECK(d2->body().empty());
}

// A burst of bodies of many sizes, around 16 KiB and over frame_max (several body frames),
// published without waiting, must arrive whole and in order.
asio::awaitable<void> mixed_body_sizes(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    const std::size_t sizes[] = {0,     16383, 16384,      16385,  100, 200000,
                                 65536, 5,     131072 - 8, 131072, 1,   40000};
    std::vector<std::string> bodies;
    for (std::size_t k = 0; k < std::size(sizes); ++k) {
        std::string b(sizes[k], '\0');
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>('a' + (i * 7 + k) % 26);
        bodies.push_back(std::move(b));
    }
    for (int round = 0; round < 3; ++round) {
        for (const auto& b : bodies) co_await ch.publish("", q.name, b);
    }
    auto stream = co_await ch.consume(q.name, {.no_ack = true});
    for (int round = 0; round < 3; ++round) {
        for (std::size_t k = 0; k < bodies.size(); ++k) {
            auto d = co_await stream.next();
            REQUIRE(d);
            CHECK(d->body().size() == bodies[k].size());
            CHECK(d->body() == bodies[k]);
        }
    }
    co_await conn.close();
}

asio::awaitable<void> get_and_get_empty(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    CHECK_FALSE(co_await ch.get(q.name));
    co_await ch.publish("", q.name, "one");
    co_await ch.publish("", q.name, "two");
    auto first = co_await ch.get(q.name);
    REQUIRE(first);
    CHECK(first->body() == "one");
    CHECK(first->message_count() == 1);
    co_await first->nack(requeue::yes);  // back to the head of the queue, redelivered
    auto again = co_await ch.get(q.name);
    REQUIRE(again);
    CHECK(again->body() == "one");
    CHECK(again->redelivered());
    co_await again->ack();
    auto second = co_await ch.get(q.name, {.no_ack = true});
    REQUIRE(second);
    CHECK(second->body() == "two");
    CHECK(second->message_count() == 0);
    CHECK_FALSE(co_await ch.get(q.name));
}

asio::awaitable<void> transactions(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    co_await ch.tx_select();
    co_await ch.publish("", q.name, "rolled back");
    co_await ch.tx_rollback();
    CHECK((co_await ch.declare_queue(q.name, {.passive = true})).message_count == 0);
    co_await ch.publish("", q.name, "committed");
    co_await ch.tx_commit();
    CHECK((co_await ch.declare_queue(q.name, {.passive = true})).message_count == 1);
    auto d = co_await ch.get(q.name);
    REQUIRE(d);
    co_await d->ack();
    co_await ch.tx_commit();
    CHECK((co_await ch.purge_queue(q.name)) == 0);
}

asio::awaitable<void> channel_errors(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    const auto missing = w.unique("missing");
    try {
        co_await ch.declare_queue(missing, {.passive = true});
        FAIL("passive declare of a missing queue succeeded");
    } catch (const channel_error& e) {
        CHECK(e.code() == reply_code::not_found);
        CHECK(std::string(e.what()).find("NOT_FOUND") != std::string::npos);
    }
    CHECK_FALSE(ch.is_open());
    CHECK_THROWS_AS(co_await ch.declare_queue("", {.exclusive = true}), channel_error);

    auto ch2 = co_await conn.open_channel();  // a replacement; the connection is fine
    const auto name = w.unique("durable");
    co_await ch2.declare_queue(name, {.durable = true});
    try {
        co_await ch2.declare_queue(name, {.durable = false});
        FAIL("redeclare with other options succeeded");
    } catch (const channel_error& e) {
        CHECK(e.code() == reply_code::precondition_failed);
    }
    auto ch3 = co_await conn.open_channel();
    CHECK((co_await ch3.delete_queue(name)) == 0);
    CHECK(conn.is_open());
}

asio::awaitable<void> exchanges_and_bindings(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    const auto src = w.unique("src");
    const auto dst = w.unique("dst");
    co_await ch.declare_exchange(src, exchange_type::topic, {.auto_delete = false});
    co_await ch.declare_exchange(dst, exchange_type::fanout);
    co_await ch.bind_exchange(dst, src, "logs.#");
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    co_await ch.bind_queue(q.name, dst, "");
    co_await ch.publish(src, "logs.kern", "a");
    co_await ch.publish(src, "other", "b");
    co_await ch.unbind_exchange(dst, src, "logs.#");
    co_await ch.publish(src, "logs.kern", "c");
    auto d = co_await ch.get(q.name, {.no_ack = true});
    REQUIRE(d);
    CHECK(d->body() == "a");
    CHECK_FALSE(co_await ch.get(q.name));
    co_await ch.unbind_queue(q.name, dst, "");
    co_await ch.publish(dst, "", "d");
    CHECK_FALSE(co_await ch.get(q.name));
    co_await ch.delete_exchange(src);
    co_await ch.delete_exchange(dst);
}

asio::awaitable<void> close_connection(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    co_await conn.close();
    CHECK_FALSE(ch.is_open());
    CHECK_THROWS_AS(co_await conn.open_channel(), connection_error);
    try {
        co_await ch.declare_queue("", {.exclusive = true});
        FAIL("operation on a closed connection succeeded");
    } catch (const connection_error& e) {
        CHECK(e.code() == reply_code::success);
    }
    co_await conn.close();  // idempotent
}

asio::awaitable<void> refused_login(world& w) {
    try {
        co_await w.connect("guest", "wrong");
        FAIL("login with a wrong password succeeded");
    } catch (const connection_error& e) {
        CHECK(e.code() == reply_code::access_refused);
    }
    try {
        co_await w.connect("guest", "guest", w.unique("vhost"));
        FAIL("open of a missing vhost succeeded");
    } catch (const connection_error& e) {
        CHECK(e.code() == reply_code::not_allowed);
    }
}

asio::awaitable<void> server_close(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    auto stream = co_await ch.consume(q.name);
    w.broker().stop();
    try {
        co_await stream.next();
        FAIL("next() after a server close returned");
    } catch (const connection_error& e) {
        CHECK(e.code() == reply_code::connection_forced);
        CHECK(std::string(e.what()).find("CONNECTION_FORCED") != std::string::npos);
    }
    CHECK_FALSE(conn.is_open());
}

}  // namespace

TEST_CASE("declare, bind, publish with every property, consume, ack") {
    world w;
    w.run(round_trip(w));
}
TEST_CASE("a message larger than frame_max, and an empty one") {
    world w;
    w.run(large_message(w));
}

TEST_CASE("a burst of bodies on both sides of the gather-write threshold and over frame_max") {
    world w;
    w.run(mixed_body_sizes(w));
}
TEST_CASE("get, get-empty, nack with requeue") {
    world w;
    w.run(get_and_get_empty(w));
}
TEST_CASE("tx select, rollback, commit") {
    world w;
    w.run(transactions(w));
}
TEST_CASE("channel errors: 404 and 406 as channel_error, channel replacement") {
    world w;
    w.run(channel_errors(w));
}
TEST_CASE("exchange-to-exchange bindings, unbind, delete") {
    world w;
    w.run(exchanges_and_bindings(w));
}
TEST_CASE("connection close: later operations throw connection_error") {
    world w;
    w.run(close_connection(w));
}
TEST_CASE("refused login and unknown vhost are connection_errors") {
    world w;
    w.run(refused_login(w));
}
TEST_CASE("server-initiated connection.close surfaces as connection_error") {
    world w;
    if (!w.embedded()) return;  // needs a handle on the server
    w.run(server_close(w));
}
