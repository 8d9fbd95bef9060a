// The broker's side of durability, against a fake store that syncs on demand.
#include "fake_sink.hpp"

#include <warren/broker/persistence.hpp>

#include <algorithm>
#include <functional>

using namespace warren;

namespace {

struct fake_store final : broker::persistence {
    std::vector<std::string> log;
    std::vector<std::function<void()>> waiting;
    broker::store_queue_id next_id = 1;

    void exchange_declared(const broker::exchange_definition& x) override {
        log.push_back("x+" + x.name);
    }
    void exchange_deleted(std::string_view, std::string_view name) override {
        log.push_back("x-" + std::string(name));
    }
    broker::store_queue_id queue_declared(const broker::queue_definition& q) override {
        log.push_back("q+" + q.name);
        return next_id++;
    }
    void queue_deleted(broker::store_queue_id q) override {
        log.push_back("q-" + std::to_string(q));
    }
    void binding_added(const broker::binding_definition& b) override {
        log.push_back("b+" + b.source + ">" + b.destination + ":" + b.key);
    }
    void binding_removed(const broker::binding_definition& b) override {
        log.push_back("b-" + b.source + ">" + b.destination + ":" + b.key);
    }
    void enqueued(const broker::message& m, std::span<const broker::store_queue_id> qs) override {
        log.push_back("m+" + std::to_string(m.id) + "@" + std::to_string(qs.size()));
    }
    void delivered(broker::store_queue_id q, std::uint64_t id) override {
        log.push_back("d" + std::to_string(id) + "@" + std::to_string(q));
    }
    void removed(broker::store_queue_id q, std::uint64_t id) override {
        log.push_back("r" + std::to_string(id) + "@" + std::to_string(q));
    }
    void when_durable(std::function<void()> done) override { waiting.push_back(std::move(done)); }
    void sync() {
        auto w = std::move(waiting);
        waiting.clear();
        for (auto& f : w) f();
    }
    bool has(const std::string& entry) const {
        return std::find(log.begin(), log.end(), entry) != log.end();
    }
};

protocol::basic_properties persistent() {
    protocol::basic_properties p;
    p.delivery_mode = 2;
    return p;
}

}  // namespace

TEST_CASE("only durable, non-exclusive, non-auto-delete definitions reach the store") {
    broker::broker b;
    fake_store store;
    b.set_persistence(&store);
    test::client c(b);
    auto& ch = c.channel();
    protocol::queue_declare d;
    d.queue = "durable";
    d.durable = true;
    REQUIRE(ch.queue_declare(d));
    d.queue = "exclusive";
    d.exclusive = true;
    REQUIRE(ch.queue_declare(d));
    d.queue = "transient";
    d.exclusive = false;
    d.durable = false;
    REQUIRE(ch.queue_declare(d));
    protocol::exchange_declare xd;
    xd.exchange = "dx";
    xd.type = "direct";
    xd.durable = true;
    REQUIRE(ch.exchange_declare(xd));
    protocol::queue_bind qb;
    qb.exchange = "dx";
    qb.routing_key = "k";
    for (const char* q : {"durable", "exclusive", "transient"}) {
        qb.queue = q;
        REQUIRE(ch.queue_bind(qb));
    }
    CHECK(store.has("q+durable"));
    CHECK_FALSE(store.has("q+exclusive"));
    CHECK_FALSE(store.has("q+transient"));
    CHECK(store.has("x+dx"));
    CHECK(store.has("b+dx>durable:k"));
    CHECK_FALSE(store.has("b+dx>exclusive:k"));
    protocol::exchange_delete del;
    del.exchange = "dx";
    REQUIRE(ch.exchange_delete(del));
    CHECK(store.has("b-dx>durable:k"));
    CHECK(store.has("x-dx"));
}

TEST_CASE("persistent messages are recorded once, confirmed after sync, in order") {
    broker::broker b;
    fake_store store;
    b.set_persistence(&store);
    test::client c(b);
    auto& ch = c.channel();
    protocol::queue_declare d;
    d.queue = "q";
    d.durable = true;
    REQUIRE(ch.queue_declare(d));
    REQUIRE(ch.confirm_select());
    REQUIRE(test::publish(ch, "", "q", "p1", false, persistent()));
    REQUIRE(test::publish(ch, "", "q", "t2"));  // transient: no record, but confirmed after p1
    CHECK(store.has("m+1@1"));
    CHECK(c.sink.confirms.empty());
    store.sync();
    REQUIRE(c.sink.confirms.size() == 2);
    CHECK(c.sink.confirms[0].first == 1);
    CHECK(c.sink.confirms[1].first == 2);

    // Delivery and ack are recorded; transient messages leave no trace.
    test::consume(ch, "q");
    REQUIRE(c.sink.deliveries.size() == 2);
    CHECK(store.has("d1@1"));
    REQUIRE(ch.ack(0, true));
    CHECK(store.has("r1@1"));
}

TEST_CASE("purge and queue deletion are recorded; closing the channel drops pending confirms") {
    broker::broker b;
    fake_store store;
    b.set_persistence(&store);
    test::client c(b);
    auto& ch = c.channel();
    protocol::queue_declare d;
    d.queue = "q";
    d.durable = true;
    REQUIRE(ch.queue_declare(d));
    REQUIRE(test::publish(ch, "", "q", "a", false, persistent()));
    protocol::queue_purge p;
    p.queue = "q";
    CHECK(ch.queue_purge(p).value() == 1);
    CHECK(store.has("r1@1"));
    REQUIRE(ch.confirm_select());
    REQUIRE(test::publish(ch, "", "q", "b", false, persistent()));
    c.conn.close_channel(1);
    store.sync();  // the callback finds the channel gone and does nothing
    CHECK(c.sink.confirms.empty());
    protocol::queue_delete qd;
    qd.queue = "q";
    REQUIRE(c.channel(2).queue_delete(qd));
    CHECK(store.has("q-1"));
}

TEST_CASE("tx.commit of persistent messages completes after sync") {
    broker::broker b;
    fake_store store;
    b.set_persistence(&store);
    test::client c(b);
    auto& ch = c.channel();
    protocol::queue_declare d;
    d.queue = "q";
    d.durable = true;
    REQUIRE(ch.queue_declare(d));
    REQUIRE(ch.tx_select());
    REQUIRE(test::publish(ch, "", "q", "a", false, persistent()));
    REQUIRE(ch.tx_commit());
    CHECK(c.sink.tx_commits.empty());
    store.sync();
    CHECK(c.sink.tx_commits.size() == 1);
    REQUIRE(ch.tx_commit());  // nothing to wait for
    CHECK(c.sink.tx_commits.size() == 2);
}

TEST_CASE("extensions and the store: refused, expired and dead-lettered persistent messages") {
    broker::broker b;
    fake_store store;
    b.set_persistence(&store);
    test::client c(b);
    auto& ch = c.channel();
    protocol::queue_declare d;
    d.queue = "dead";
    d.durable = true;
    REQUIRE(ch.queue_declare(d));  // store id 1
    d.queue = "full";
    d.arguments.add("x-max-length", std::int32_t{0});
    d.arguments.add("x-overflow", "reject-publish-dlx");
    d.arguments.add("x-dead-letter-exchange", "");
    d.arguments.add("x-dead-letter-routing-key", "dead");
    REQUIRE(ch.queue_declare(d));  // store id 2
    REQUIRE(test::publish(ch, "", "full", "m", false, persistent()));
    b.flush_events();  // routes the dead letter, as a session does after each frame
    // Recorded for "full" at publish, removed again when refused; the dead-lettered copy is a
    // new persistent message recorded for "dead".
    CHECK(store.has("m+1@1"));
    CHECK(store.has("r1@2"));
    CHECK(store.has("m+2@1"));
    CHECK(b.find_vhost("/")->find_queue("dead")->ready_count() == 1);
}
