#include "fake_sink.hpp"

using namespace warren;

TEST_CASE("queue.declare: server names, idempotent redeclare, inequivalence, reserved names") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto gen = test::declare(ch, "");
    CHECK(gen.starts_with("amq.gen-"));
    CHECK(gen.size() == 8 + 22);
    CHECK(test::declare(ch, "q") == "q");
    CHECK(test::declare(ch, "q") == "q");

    protocol::queue_declare d;
    d.queue = "q";
    d.durable = true;
    auto r = ch.queue_declare(d);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == protocol::reply_code::precondition_failed);
    CHECK(r.error().text ==
          "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received "
          "'true' but current is 'false'");

    d = {};
    d.queue = "amq.mine";
    CHECK(ch.queue_declare(d).error().code == protocol::reply_code::access_refused);

    d = {};
    d.queue = "missing";
    d.passive = true;
    CHECK(ch.queue_declare(d).error().text == "NOT_FOUND - no queue 'missing' in vhost '/'");
}

TEST_CASE("exclusive queues: locked for other connections, deleted with their owner") {
    broker::broker b;
    auto& vh = *b.find_vhost("/");
    std::string name;
    {
        test::client owner(b, "owner");
        name = test::declare(owner.channel(), "", true);
        test::client other(b, "other");
        protocol::basic_consume m;
        m.queue = name;
        auto r = other.channel().consume(m);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == protocol::reply_code::resource_locked);
        REQUIRE(vh.find_queue(name));
    }
    CHECK_FALSE(vh.find_queue(name));
}

TEST_CASE("auto-delete: queue goes with its last consumer, exchange with its last binding") {
    broker::broker b;
    auto& vh = *b.find_vhost("/");
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "ad", false, true);
    protocol::exchange_declare xd;
    xd.exchange = "adx";
    xd.type = "direct";
    xd.auto_delete = true;
    REQUIRE(ch.exchange_declare(xd));
    protocol::queue_bind qb;
    qb.queue = q;
    qb.exchange = "adx";
    qb.routing_key = "k";
    REQUIRE(ch.queue_bind(qb));
    auto t1 = test::consume(ch, q);
    auto t2 = test::consume(ch, q);
    ch.cancel(t1);
    CHECK(vh.find_queue(q));
    ch.cancel(t2);
    CHECK_FALSE(vh.find_queue(q));
    CHECK_FALSE(vh.find_exchange("adx"));  // its only binding went with the queue
}

TEST_CASE("deleting a consumed queue cancels its consumers (consumer cancel notify)") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    auto tag = test::consume(ch, q);
    test::client admin(b, "admin");
    protocol::queue_delete del;
    del.queue = q;
    REQUIRE(admin.channel().queue_delete(del));
    CHECK(c.sink.cancelled == std::vector<std::string>{tag});
    CHECK(ch.consumer_count() == 0);
}

TEST_CASE("queue.delete if-unused / if-empty and purge counts") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    REQUIRE(test::publish(ch, "", q, "1"));
    REQUIRE(test::publish(ch, "", q, "2"));
    protocol::queue_delete del;
    del.queue = q;
    del.if_empty = true;
    CHECK(ch.queue_delete(del).error().text ==
          "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty");
    protocol::queue_purge p;
    p.queue = q;
    CHECK(ch.queue_purge(p).value() == 2);
    CHECK(ch.queue_delete(del).value() == 0);
}

TEST_CASE("exclusive consumers and duplicate consumer tags") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    test::consume(ch, q, false, "t");
    protocol::basic_consume m;
    m.queue = q;
    m.consumer_tag = "t";
    auto dup = ch.consume(m);
    REQUIRE_FALSE(dup);
    CHECK(dup.error().code == protocol::reply_code::not_allowed);  // a connection error
    m.consumer_tag = "x";
    m.exclusive = true;
    auto ex = ch.consume(m);
    REQUIRE_FALSE(ex);
    CHECK(ex.error().code == protocol::reply_code::access_refused);
}

TEST_CASE("exchange.declare: types, equivalence, reserved and default names") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    protocol::exchange_declare xd;
    xd.exchange = "x";
    xd.type = "x-unknown";
    CHECK(ch.exchange_declare(xd).error().code == protocol::reply_code::command_invalid);
    xd.type = "topic";
    REQUIRE(ch.exchange_declare(xd));
    xd.type = "direct";
    CHECK(ch.exchange_declare(xd).error().text ==
          "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received "
          "'direct' but current is 'topic'");
    xd.exchange = "amq.new";
    CHECK(ch.exchange_declare(xd).error().code == protocol::reply_code::access_refused);
    xd.exchange = "amq.direct";  // existing with the same properties: fine
    xd.durable = true;
    CHECK(ch.exchange_declare(xd));
    protocol::exchange_delete del;
    del.exchange = "amq.direct";
    CHECK(ch.exchange_delete(del).error().code == protocol::reply_code::access_refused);
    del.exchange = "never-declared";
    CHECK(ch.exchange_delete(del));
}
