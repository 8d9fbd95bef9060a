#include "fake_sink.hpp"

#include <algorithm>

using namespace warren;

namespace {
std::size_t count_for(const test::fake_sink& s, const std::string& tag) {
    std::size_t n = 0;
    for (const auto& d : s.deliveries) n += d.consumer_tag == tag;
    return n;
}
}  // namespace

TEST_CASE("fair dispatch: round-robin that never exceeds a consumer's prefetch") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "work");
    test::qos(ch, 1);
    auto a = test::consume(ch, q, false, "a");
    auto bb = test::consume(ch, q, false, "b");
    for (int i = 0; i < 6; ++i) REQUIRE(test::publish(ch, "", q, "m" + std::to_string(i)));
    // Each consumer holds exactly one unacked message; the rest wait.
    REQUIRE(c.sink.deliveries.size() == 2);
    CHECK(c.sink.deliveries[0].consumer_tag == "a");
    CHECK(c.sink.deliveries[1].consumer_tag == "b");
    CHECK(b.find_vhost("/")->find_queue(q)->ready_count() == 4);
    // "a" is fast: it acks and gets the next one each time; "b" stays busy.
    for (int i = 0; i < 4; ++i) {
        auto last_a = std::find_if(c.sink.deliveries.rbegin(), c.sink.deliveries.rend(),
                                   [&](const auto& d) { return d.consumer_tag == a; });
        REQUIRE(ch.ack(last_a->delivery_tag, false));
    }
    CHECK(count_for(c.sink, a) == 5);
    CHECK(count_for(c.sink, bb) == 1);
    CHECK(ch.unacked_count() == 2);
}

TEST_CASE("basic.qos global=true limits the channel, global=false each later consumer") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q1 = test::declare(ch, "q1");
    auto q2 = test::declare(ch, "q2");
    test::qos(ch, 3, true);
    test::consume(ch, q1, false, "c1");
    test::consume(ch, q2, false, "c2");
    for (int i = 0; i < 5; ++i) {
        REQUIRE(test::publish(ch, "", q1, "x"));
        REQUIRE(test::publish(ch, "", q2, "y"));
    }
    CHECK(c.sink.deliveries.size() == 3);

    test::client c2(b, "other");
    auto& ch2 = c2.channel();
    test::qos(ch2, 2, false);
    test::consume(ch2, q1, false, "d1");
    test::consume(ch2, q2, false, "d2");
    CHECK(count_for(c2.sink, "d1") == 2);
    CHECK(count_for(c2.sink, "d2") == 2);
}

TEST_CASE("no-ack consumers are not limited by prefetch and leave nothing unacked") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    test::qos(ch, 1);
    test::consume(ch, q, true);
    for (int i = 0; i < 10; ++i) REQUIRE(test::publish(ch, "", q, "x"));
    CHECK(c.sink.deliveries.size() == 10);
    CHECK(ch.unacked_count() == 0);
}

TEST_CASE("unacked messages return in original order, redelivered, when a channel closes") {
    broker::broker b;
    test::client producer(b, "p");
    auto& pch = producer.channel();
    auto q = test::declare(pch, "q");
    for (int i = 1; i <= 5; ++i) REQUIRE(test::publish(pch, "", q, "m" + std::to_string(i)));
    {
        test::client c(b, "c1");
        auto& ch = c.channel();
        test::consume(ch, q);
        REQUIRE(c.sink.deliveries.size() == 5);
        // Ack m2 and m4 only; the channel then goes away with m1, m3, m5 unacked.
        REQUIRE(ch.ack(2, false));
        REQUIRE(ch.ack(4, false));
    }
    test::client c2(b, "c2");
    auto& ch2 = c2.channel();
    test::consume(ch2, q);
    REQUIRE(c2.sink.bodies() == std::vector<std::string>{"m1", "m3", "m5"});
    for (const auto& d : c2.sink.deliveries) CHECK(d.redelivered);
}

TEST_CASE("nack with requeue puts a message back at its original position") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    for (int i = 1; i <= 4; ++i) REQUIRE(test::publish(ch, "", q, "m" + std::to_string(i)));
    protocol::basic_get g;
    g.queue = q;
    auto m1 = ch.get(g).value();
    auto m2 = ch.get(g).value();
    REQUIRE(m1);
    REQUIRE(m2);
    CHECK(m2->message_count == 2);
    REQUIRE(ch.nack(m2->delivery_tag, false, true));
    auto again = ch.get(g).value();
    REQUIRE(again);
    CHECK(again->msg->body == "m2");
    CHECK(again->redelivered);
    REQUIRE(ch.reject(m1->delivery_tag, false));  // dropped
    CHECK(ch.get(g).value()->msg->body == "m3");
}

TEST_CASE("ack rules: unknown and double acks are 406, multiple and tag 0 ack everything") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    test::consume(ch, q);
    for (int i = 0; i < 5; ++i) REQUIRE(test::publish(ch, "", q, "x"));
    auto bad = ch.ack(99, false);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == protocol::reply_code::precondition_failed);
    CHECK(bad.error().text == "PRECONDITION_FAILED - unknown delivery tag 99");
    REQUIRE(ch.ack(2, true));
    CHECK(ch.unacked_count() == 3);
    CHECK_FALSE(ch.ack(2, false));
    REQUIRE(ch.ack(0, true));
    CHECK(ch.unacked_count() == 0);
}

TEST_CASE("basic.recover requeues everything unacked; requeue=false is 540 as in RabbitMQ") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    test::qos(ch, 2);
    test::consume(ch, q);
    for (int i = 0; i < 2; ++i) REQUIRE(test::publish(ch, "", q, "m" + std::to_string(i)));
    REQUIRE(ch.recover(true));
    REQUIRE(c.sink.deliveries.size() == 4);
    CHECK(c.sink.deliveries[2].redelivered);
    CHECK(c.sink.deliveries[2].body == "m0");
    auto r = ch.recover(false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == protocol::reply_code::not_implemented);
}

TEST_CASE("transactions: publishes and acks take effect on commit only") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    REQUIRE(ch.tx_select());
    REQUIRE(test::publish(ch, "", q, "a"));
    auto& vh = *b.find_vhost("/");
    CHECK(vh.find_queue(q)->ready_count() == 0);
    REQUIRE(ch.tx_commit());
    CHECK(vh.find_queue(q)->ready_count() == 1);
    CHECK(c.sink.tx_commits.size() == 1);
    REQUIRE(test::publish(ch, "", q, "b"));
    REQUIRE(ch.tx_rollback());
    REQUIRE(ch.tx_commit());
    CHECK(vh.find_queue(q)->ready_count() == 1);
    CHECK(c.sink.tx_commits.size() == 2);
    CHECK_FALSE(ch.confirm_select());

    auto& plain = c.channel(2);
    CHECK(plain.tx_commit().error().text == "PRECONDITION_FAILED - channel is not transactional");
}

TEST_CASE("a full output buffer pauses dispatch until resume") {
    broker::broker b;
    test::client c(b);
    auto& ch = c.channel();
    auto q = test::declare(ch, "q");
    test::consume(ch, q, true);
    c.sink.can_write = false;
    for (int i = 0; i < 3; ++i) REQUIRE(test::publish(ch, "", q, "x"));
    CHECK(c.sink.deliveries.empty());
    c.sink.can_write = true;
    c.conn.resume();
    CHECK(c.sink.deliveries.size() == 3);
}

TEST_CASE(
    "resume dispatches every queue that stalled on the full buffer, again after each resume") {
    broker::broker b;
    test::client c(b);
    auto& ch1 = c.channel(1);
    auto& ch2 = c.channel(2);
    std::vector<std::string> queues, tags;
    for (int i = 0; i < 6; ++i) {
        auto& ch = i % 2 == 0 ? ch1 : ch2;
        queues.push_back(test::declare(ch, "q" + std::to_string(i)));
        tags.push_back(test::consume(ch, queues.back(), true));
    }
    c.sink.can_write = false;
    for (const auto& q : queues) {
        REQUIRE(test::publish(ch1, "", q, q + "-a"));
        REQUIRE(test::publish(ch1, "", q, q + "-b"));
    }
    CHECK(c.sink.deliveries.empty());

    // The buffer fills again after 5 deliveries: the queues not served then stall again and
    // the next resume serves them.
    c.sink.can_write = true;
    c.sink.write_budget = 5;
    c.conn.resume();
    CHECK(c.sink.deliveries.size() == 5);
    c.sink.write_budget = 9;
    c.conn.resume();
    CHECK(c.sink.deliveries.size() == 9);
    c.sink.write_budget = static_cast<std::size_t>(-1);
    c.conn.resume();
    REQUIRE(c.sink.deliveries.size() == 12);
    std::vector<std::string> bodies = c.sink.bodies();
    std::sort(bodies.begin(), bodies.end());
    std::vector<std::string> expected;
    for (const auto& q : queues) {
        expected.push_back(q + "-a");
        expected.push_back(q + "-b");
    }
    CHECK(bodies == expected);

    // A consumer noted before one resume is noted again after it (a stall per resume).
    c.sink.can_write = false;
    REQUIRE(test::publish(ch1, "", queues[0], "again"));
    c.sink.can_write = true;
    c.conn.resume();
    CHECK(c.sink.deliveries.back().body == "again");

    // Queues deleted or consumers cancelled while stalled: resume skips them.
    c.sink.can_write = false;
    REQUIRE(test::publish(ch1, "", queues[1], "gone"));
    REQUIRE(test::publish(ch1, "", queues[2], "cancelled"));
    REQUIRE(test::publish(ch1, "", queues[3], "kept"));
    auto& vh = *b.find_vhost("/");
    vh.delete_queue(*vh.find_queue(queues[1]));
    ch1.cancel(tags[2]);
    const auto before = c.sink.deliveries.size();
    c.sink.can_write = true;
    c.conn.resume();
    REQUIRE(c.sink.deliveries.size() == before + 1);
    CHECK(c.sink.deliveries.back().body == "kept");
    CHECK(vh.find_queue(queues[2])->ready_count() == 1);
}

TEST_CASE("a queue stalled on its one consumer's full buffer serves a consumer that comes later") {
    broker::broker b;
    test::client a(b, "a");
    test::client other(b, "other");
    auto q = test::declare(a.channel(), "q");
    test::consume(a.channel(), q, true);
    a.sink.can_write = false;
    REQUIRE(test::publish(a.channel(), "", q, "1"));
    REQUIRE(test::publish(a.channel(), "", q, "2"));  // the queue skips its stalled consumer
    CHECK(a.sink.deliveries.empty());

    // A second consumer ends the short cut: it gets what is ready and what comes next.
    const auto tag = test::consume(other.channel(), q, true);
    CHECK(other.sink.bodies() == std::vector<std::string>{"1", "2"});
    REQUIRE(test::publish(a.channel(), "", q, "3"));
    CHECK(other.sink.deliveries.size() == 3);

    // Back to one (stalled) consumer: publishes wait for a's resume, then all arrive in order.
    other.channel().cancel(tag);
    REQUIRE(test::publish(a.channel(), "", q, "4"));
    REQUIRE(test::publish(a.channel(), "", q, "5"));
    CHECK(a.sink.deliveries.empty());
    a.sink.can_write = true;
    a.conn.resume();
    CHECK(a.sink.bodies() == std::vector<std::string>{"4", "5"});
}

namespace {
// One connection publishes, another consumes: flow control concerns the publishing one.
struct flow_fixture {
    broker::broker b;
    test::client producer{b, "producer"};
    test::client consumer{b, "consumer"};
    broker::channel& pch = producer.channel();
    broker::channel& cch = consumer.channel();
};
}  // namespace

TEST_CASE_FIXTURE(
    flow_fixture,
    "publisher flow control: one queue over 1,000 ready messages, released under 500") {
    auto q = test::declare(cch, "q");
    test::consume(cch, q, true);
    consumer.sink.can_write = false;  // the consumer's socket is full: messages stay ready
    for (std::size_t i = 0; i < broker::connection::flow_high_water; ++i)
        REQUIRE(test::publish(pch, "", q, "x"));
    CHECK_FALSE(producer.conn.backlogged());
    REQUIRE(test::publish(pch, "", q, "x"));
    CHECK(producer.conn.backlogged());
    CHECK_FALSE(consumer.conn.backlogged());  // only the connection that published is slowed
    // Released once the queue drains.
    consumer.sink.can_write = true;
    consumer.conn.resume();
    CHECK(consumer.sink.deliveries.size() == broker::connection::flow_high_water + 1);
    CHECK_FALSE(producer.conn.backlogged());
}

TEST_CASE_FIXTURE(flow_fixture,
                  "publisher flow control: a backlog spread over many queues counts in total") {
    // 100 queues, 10 messages each: no queue alone comes near the high water.
    std::vector<std::string> queues;
    for (int i = 0; i < 100; ++i) {
        queues.push_back(test::declare(cch, "q" + std::to_string(i)));
        test::consume(cch, queues.back(), true);
    }
    consumer.sink.can_write = false;
    const std::size_t per_queue = broker::connection::flow_high_water / queues.size();
    for (std::size_t i = 0; i < per_queue; ++i) {
        for (const auto& q : queues) REQUIRE(test::publish(pch, "", q, "x"));
    }
    CHECK_FALSE(producer.conn.backlogged());  // exactly at the total high water
    REQUIRE(test::publish(pch, "", queues[0], "x"));
    CHECK(producer.conn.backlogged());
    // Draining part of it is not enough until the total is under the low water...
    for (std::size_t i = 0; i < 40; ++i) {
        auto& q = *b.find_vhost("/")->find_queue(queues[i]);
        q.purge();
    }
    CHECK(producer.conn.backlogged());  // 600 left > 500: hysteresis
    for (std::size_t i = 40; i < 50; ++i) b.find_vhost("/")->find_queue(queues[i])->purge();
    CHECK_FALSE(producer.conn.backlogged());  // 500 left
    // Queues without consumers never throttle: filling a queue is allowed.
    auto idle = test::declare(pch, "idle");
    for (std::size_t i = 0; i < 2 * broker::connection::flow_high_water; ++i) {
        REQUIRE(test::publish(pch, "", idle, "x"));
    }
    CHECK_FALSE(producer.conn.backlogged());
}

TEST_CASE_FIXTURE(flow_fixture,
                  "publisher flow control: 10,000 queues, throttled at once and released at the "
                  "first check after the drain") {
    // The queues keep the producer's account exact: no check is a few reads old (with
    // polling, a drained backlog over 10,000 queues went unseen for many checks, and an
    // unseen one let the backlog grow to ~70,000 messages).
    constexpr std::size_t count = 10000;
    std::vector<std::string> queues;
    for (std::size_t i = 0; i < count; ++i) {
        queues.push_back(test::declare(cch, "t" + std::to_string(i)));
        test::consume(cch, queues.back(), true);
    }
    consumer.sink.can_write = false;
    constexpr std::size_t high = broker::connection::flow_high_water;
    for (std::size_t i = 0; i < high; ++i)
        REQUIRE(test::publish(pch, "", queues[i], "x"));  // exactly the high water
    CHECK_FALSE(producer.conn.backlogged());
    CHECK(producer.conn.flow()->total == high);
    REQUIRE(test::publish(pch, "", queues[count - 7], "x"));
    CHECK(producer.conn.backlogged());
    for (const auto& q : queues) REQUIRE(test::publish(pch, "", q, "x"));  // 11,001 in all
    CHECK(producer.conn.flow()->total == count + high + 1);
    // The consumer takes everything.
    consumer.sink.can_write = true;
    consumer.conn.resume();
    REQUIRE(consumer.sink.deliveries.size() == count + high + 1);
    CHECK(producer.conn.flow()->total == 0);
    CHECK_FALSE(producer.conn.backlogged());
}

TEST_CASE_FIXTURE(
    flow_fixture,
    "publisher flow control: the count follows purges, refills and deletions exactly") {
    constexpr std::size_t count = 1000;
    std::vector<std::string> queues;
    for (std::size_t i = 0; i < count; ++i) {
        queues.push_back(test::declare(cch, "m" + std::to_string(i)));
        test::consume(cch, queues.back(), true);
    }
    auto& vh = *b.find_vhost("/");
    consumer.sink.can_write = false;
    const std::size_t per_queue =
        broker::connection::flow_high_water / count + 1;  // 2: 2,000 in all
    for (std::size_t i = 0; i < per_queue; ++i) {
        for (const auto& q : queues) REQUIRE(test::publish(pch, "", q, "x"));
    }
    CHECK(producer.conn.backlogged());
    // Purge all but 250 queues: 500 left, the low water.
    constexpr std::size_t kept = 250;
    for (std::size_t i = kept; i < count; ++i) vh.find_queue(queues[i])->purge();
    CHECK(producer.conn.flow()->total == kept * per_queue);
    CHECK_FALSE(producer.conn.backlogged());
    // Filling the purged queues again counts from zero: 750 * 2 + 500 = 2,000 > 1,000.
    for (std::size_t n = 0; n < per_queue; ++n) {
        for (std::size_t i = kept; i < count; ++i) REQUIRE(test::publish(pch, "", queues[i], "x"));
    }
    CHECK(producer.conn.flow()->total == count * per_queue);
    CHECK(producer.conn.backlogged());
    // Deleting the queues releases the producer.
    for (const auto& q : queues) vh.delete_queue(*vh.find_queue(q));
    CHECK(producer.conn.flow()->total == 0);
    CHECK_FALSE(producer.conn.backlogged());
}

TEST_CASE_FIXTURE(flow_fixture,
                  "publisher flow control: only queues with consumers count, and a cancel or a new "
                  "consumer moves the count") {
    auto q = test::declare(cch, "q");
    auto tag = test::consume(cch, q, true);
    consumer.sink.can_write = false;
    for (std::size_t i = 0; i <= broker::connection::flow_high_water; ++i)
        REQUIRE(test::publish(pch, "", q, "x"));
    CHECK(producer.conn.backlogged());
    CHECK(producer.conn.flow()->total == broker::connection::flow_high_water + 1);
    // No consumer left: filling the queue is allowed (nothing would drain it sooner).
    cch.cancel(tag);
    CHECK(producer.conn.flow()->total == 0);
    CHECK_FALSE(producer.conn.backlogged());
    // A consumer again, still unable to take them: the backlog counts again.
    test::consume(cch, q, true);
    CHECK(producer.conn.flow()->total == broker::connection::flow_high_water + 1);
    CHECK(producer.conn.backlogged());
    // basic.get takes one: 1,000 left, still over the low water.
    protocol::basic_get g;
    g.queue = q;
    g.no_ack = true;
    auto got = pch.get(g);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK(producer.conn.flow()->total == broker::connection::flow_high_water);
    CHECK(producer.conn.backlogged());
}

TEST_CASE_FIXTURE(
    flow_fixture,
    "publisher flow control: a queue counts for the connection that published to it last") {
    test::client other{b, "other producer"};
    auto& och = other.channel();
    auto q = test::declare(cch, "shared");
    test::consume(cch, q, true);
    consumer.sink.can_write = false;
    for (std::size_t i = 0; i <= broker::connection::flow_high_water; ++i)
        REQUIRE(test::publish(pch, "", q, "x"));
    CHECK(producer.conn.backlogged());
    CHECK_FALSE(other.conn.backlogged());
    REQUIRE(test::publish(och, "", q, "y"));
    CHECK(other.conn.backlogged());
    CHECK(other.conn.flow()->total == broker::connection::flow_high_water + 2);
    CHECK(producer.conn.flow()->total == 0);
    CHECK_FALSE(producer.conn.backlogged());
}

TEST_CASE(
    "publisher flow control: a producer that disconnects leaves its queues' counts harmlessly") {
    broker::broker b;
    test::client consumer{b, "consumer"};
    auto& cch = consumer.channel();
    auto q = test::declare(cch, "q");
    test::consume(cch, q, true);
    consumer.sink.can_write = false;
    std::weak_ptr<broker::flow_account> gone;
    {
        test::client producer{b, "producer"};
        for (std::size_t i = 0; i <= broker::connection::flow_high_water; ++i) {
            REQUIRE(test::publish(producer.channel(), "", q, "x"));
        }
        CHECK(producer.conn.backlogged());
        gone = producer.conn.flow();
    }
    // The queue still counts in the closed connection's account (kept alive by the queue):
    // draining it, and a new producer, work as before.
    REQUIRE_FALSE(gone.expired());
    consumer.sink.can_write = true;
    consumer.conn.resume();
    CHECK(consumer.sink.deliveries.size() == broker::connection::flow_high_water + 1);
    CHECK(gone.lock()->total == 0);
    test::client next{b, "next producer"};
    REQUIRE(test::publish(next.channel(), "", q, "x"));
    CHECK_FALSE(next.conn.backlogged());
    b.find_vhost("/")->delete_queue(*b.find_vhost("/")->find_queue(q));
    const auto left = gone.lock();
    CHECK((left == nullptr || left->total == 0));
}
