#include "store_fixture.hpp"

#include <warren/store/store.hpp>

using namespace warren;
using test::store_harness;

TEST_CASE(
    "persistent messages come back in order; removed ones do not; delivered ones are redelivered") {
    store_harness h;
    auto st = h.open();
    CHECK(st.messages == 0);
    const auto q = h.declare("jobs");
    for (std::uint64_t id = 1; id <= 10; ++id) h.enqueue(q, id, "body " + std::to_string(id));
    h.s->removed(q, 2);
    h.s->removed(q, 5);
    h.s->delivered(q, 3);
    h.sync();
    h.close();

    st = h.open();
    CHECK(st.queues == 1);
    CHECK(st.messages == 8);
    CHECK(h.b->next_message_id() == 11);
    auto got = h.drain("jobs");
    REQUIRE(got.size() == 8);
    const std::uint64_t want[] = {1, 3, 4, 6, 7, 8, 9, 10};
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].msg->id == want[i]);
        CHECK(got[i].msg->body == "body " + std::to_string(want[i]));
        CHECK(got[i].msg->persistent());
        CHECK(got[i].msg->routing_key == "q");
        CHECK(got[i].redelivered == (want[i] == 3));
    }
    CHECK(h.b->find_vhost("/")->find_queue("jobs")->store_id() == q);
}

TEST_CASE("when_durable runs on the posted executor after the sync, at once when idle") {
    store_harness h;
    h.open();
    bool idle_ran = false;
    h.s->when_durable([&] { idle_ran = true; });
    CHECK(idle_ran);  // nothing pending
    const auto q = h.declare("q");
    h.enqueue(q, 1, "x");
    int ran = 0;
    for (int i = 0; i < 100; ++i) h.s->when_durable([&] { ++ran; });
    CHECK(ran == 0);  // never inline while something is pending
    REQUIRE(h.ex.run_until([&] { return ran == 100; }));
}

TEST_CASE("segments roll over at the configured size and settled ones are deleted") {
    store_harness h;
    h.open(4096);
    const auto q = h.declare("q");
    for (std::uint64_t id = 1; id <= 100; ++id) h.enqueue(q, id, std::string(1000, 'a'));
    h.sync();
    CHECK(test::count_segments(h.dir.path) >= 20);
    for (std::uint64_t id = 1; id <= 100; ++id) h.s->removed(q, id);
    h.sync();
    h.sync();  // unlinks ride on the batch after the one that carried the removes
    CHECK(test::count_segments(h.dir.path) <= 1);
    CHECK(h.s->segment_count() == 1);
    h.close();
    CHECK(h.open(4096).messages == 0);
    CHECK(h.drain("q").empty());
}

TEST_CASE("a long-lived message keeps the segments that settle its neighbours") {
    store_harness h;
    h.open(4096);
    const auto q = h.declare("q");
    h.enqueue(q, 1, std::string(100, 'x'));  // stays
    for (std::uint64_t id = 2; id <= 200; ++id) h.enqueue(q, id, std::string(500, 'y'));
    for (std::uint64_t id = 2; id <= 200; ++id) h.s->removed(q, id);
    h.sync();
    h.sync();
    // Segment 1 holds message 1 and acks of its neighbours' messages live in later segments,
    // which must survive while segment 1 does. Everything in between is gone.
    const auto kept = test::count_segments(h.dir.path);
    CHECK(kept < 10);
    h.close();
    CHECK(h.open(4096).messages == 1);
    auto got = h.drain("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].msg->id == 1);
    h.close();
    // No resurrection after a second restart either, and acking the last one frees everything.
    CHECK(h.open(4096).messages == 1);
    h.s->removed(q, 1);
    h.sync();
    h.sync();
    CHECK(test::count_segments(h.dir.path) <= 1);
    h.close();
    CHECK(h.open(4096).messages == 0);
}

TEST_CASE("a deleted queue loses its messages and its id is never reused") {
    store_harness h;
    h.open(4096);
    const auto q1 = h.declare("a");
    for (std::uint64_t id = 1; id <= 20; ++id) h.enqueue(q1, id, std::string(600, 'z'));
    h.s->queue_deleted(q1);
    const auto q2 = h.declare("a");
    CHECK(q2 != q1);
    h.enqueue(q2, 21, "new");
    h.sync();
    h.sync();
    h.close();
    auto st = h.open(4096);
    CHECK(st.queues == 1);
    auto got = h.drain("a");
    REQUIRE(got.size() == 1);
    CHECK(got[0].msg->body == "new");
    CHECK(h.declare("b") > q2);
}

TEST_CASE("one enqueue record serves several queues") {
    store_harness h;
    h.open();
    const auto a = h.declare("a");
    const auto b = h.declare("b");
    const auto m = test::make_message(7, "fan");
    const std::uint32_t qs[] = {a, b};
    h.s->enqueued(m, qs);
    h.s->removed(a, 7);
    h.sync();
    h.close();
    CHECK(h.open().messages == 1);
    CHECK(h.drain("a").empty());
    auto got = h.drain("b");
    REQUIRE(got.size() == 1);
    CHECK(got[0].msg->body == "fan");
}

TEST_CASE("topology survives: exchanges, queues, bindings; removed ones do not") {
    store_harness h;
    h.open();
    broker::exchange_definition x{"/", "logs", broker::exchange_kind::fanout, {}};
    x.options.durable = true;
    h.s->exchange_declared(x);
    x.name = "gone";
    h.s->exchange_declared(x);
    h.s->exchange_deleted("/", "gone");
    h.declare("q");
    h.s->binding_added({"/", "logs", "q", true, "", {}});
    h.s->binding_added({"/", "amq.direct", "q", true, "k", {}});
    h.s->binding_removed({"/", "amq.direct", "q", true, "k", {}});
    h.sync();
    h.close();
    auto st = h.open();
    CHECK(st.exchanges == 1);
    CHECK(st.bindings == 1);
    auto* vh = h.b->find_vhost("/");
    REQUIRE(vh->find_exchange("logs"));
    CHECK(vh->find_exchange("logs")->kind() == broker::exchange_kind::fanout);
    CHECK(vh->find_exchange("logs")->binding_count() == 1);
    CHECK(vh->find_exchange("amq.direct")->binding_count() == 0);
    CHECK_FALSE(vh->find_exchange("gone"));
}
