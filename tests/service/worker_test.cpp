// The worker: retries with backoff on simulated time, dead-lettering, concurrency, drain,
// verdicts, poison messages, a consumer cancelled by the broker.
#include "service_support.hpp"

#include <warren/service/worker.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cmath>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace warren;
using namespace warren::test;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

asio::awaitable<void> publish_all(connection& conn, std::string queue,
                                  std::vector<std::string> bodies) {
    auto ch = co_await conn.open_channel({.confirms = true});
    for (auto& b : bodies) co_await ch.publish("", queue, std::move(b), {.persistent = true});
    co_await ch.close();
}

/// Stops `w` when the enclosing scope ends (also when a check throws).
struct stop_at_end {
    worker& w;
    ~stop_at_end() { w.stop(); }
};

struct attempt_seen {
    unsigned attempt;
    std::string original_expiration;  // of the delay it came back from ("" for the first)
};

std::string first_death_expiration(const basic_properties& p) {
    const auto* v = p.headers ? p.headers->find("x-death") : nullptr;
    const auto* arr = v ? v->get_if<protocol::field_array>() : nullptr;
    if (!arr || arr->values.empty()) return {};
    const auto* t = arr->values.front().get_if<field_table>();
    const auto* e = t ? t->find("original-expiration") : nullptr;
    const auto* s = e ? e->as_string() : nullptr;
    return s ? *s : std::string();
}

asio::awaitable<void> record_and_fail(std::vector<attempt_seen>& seen, message_context& m) {
    seen.push_back({m.attempt(), first_death_expiration(m.properties())});
    throw std::runtime_error("attempt " + std::to_string(m.attempt()) + " failed");
    co_return;
}

asio::awaitable<void> backoff_on_simulated_time(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("jobs", {.durable = true});
    worker_options o;
    o.queues = {"jobs"};
    o.prefetch = 1;
    // Hours of backoff: 1 h, 2 h, 4 h, then the error queue after the 4th attempt.
    o.retry = retry_policy::exponential(4, std::chrono::hours(1), 2.0, std::chrono::hours(24), 0.2);
    worker wk{conn, o};
    std::vector<attempt_seen> seen;
    const std::vector<std::string> bodies{
        "poison"};  // named: GCC 12 cannot compile an initializer_list in co_await
    co_await publish_all(conn, "jobs", bodies);

    auto driver = [](world& wd, worker& wk2, channel& c,
                     std::vector<attempt_seen>& s) -> asio::awaitable<void> {
        stop_at_end guard{wk2};
        co_await wait_until([&] { return s.size() == 1; }, 10s, "the first attempt");
        for (unsigned k = 1; k <= 3; ++k) {
            const auto nominal = std::chrono::hours(1) * (1 << (k - 1));
            // Inside the jitter window's lower edge: not back yet.
            co_await wait_until([&] { return wk2.stats().retried == k; }, 10s,
                                "the retry to be published");
            // A round trip on the worker's connection: its ack of the failed attempt, written
            // before, has reached the broker (else the hours advanced below would trip
            // consumer_timeout on a delivery that is only unacked in flight).
            co_await depth(c, "jobs");
            wd.broker().advance(
                std::chrono::duration_cast<std::chrono::milliseconds>(nominal * 0.8) - 1s);
            CHECK((co_await depth(c, "jobs.retry." + std::to_string(k))) == 1);
            CHECK(s.size() == k);
            // Then a minute at a time until it is back (the clock stands still while the worker
            // handles it, so the delivery it holds never looks old to consumer_timeout).
            auto moved = std::chrono::duration_cast<std::chrono::milliseconds>(nominal * 0.8) - 1s;
            while ((co_await depth(c, "jobs.retry." + std::to_string(k))) == 1) {
                REQUIRE(moved <= nominal * 1.2 + 1min);
                wd.broker().advance(1min);
                moved += 1min;
            }
            co_await wait_until([&] { return s.size() == k + 1; }, 10s, "the retried attempt");
            CHECK(moved >= nominal * 0.8);
            const auto delay = std::stoll(s.back().original_expiration);
            const auto nominal_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(nominal).count();
            CHECK(delay >= nominal_ms * 8 / 10);
            CHECK(delay <= nominal_ms * 12 / 10);
        }
        co_await wait_until([&] { return wk2.stats().dead_lettered == 1; }, 10s, "the dead letter");
        auto dead = co_await c.get("jobs.dlq", {.no_ack = true});
        REQUIRE(dead);
        CHECK(dead->body() == "poison");
        CHECK(header_text(dead->properties(), "x-attempts") == "4");
        CHECK(header_text(dead->properties(), "x-exception-message") == "attempt 4 failed");
        CHECK(header_text(dead->properties(), "x-original-exchange") == "");
        CHECK(header_text(dead->properties(), "x-original-routing-key") == "jobs");
        CHECK(dead->properties().delivery_mode == std::uint8_t{2});  // the original properties
        CHECK((co_await depth(c, "jobs")) == 0);
    };
    co_await both(wk.run([&seen](message_context& m) { return record_and_fail(seen, m); }),
                  driver(w, wk, ch, seen));
    const auto st = wk.stats();
    CHECK(st.received == 4);
    CHECK(st.failed == 4);
    CHECK(st.retried == 3);
    CHECK(st.dead_lettered == 1);
    CHECK(st.succeeded == 0);
    CHECK(seen.size() == 4);
    for (unsigned i = 0; i < seen.size(); ++i) CHECK(seen[i].attempt == i + 1);
}

struct load {
    int active = 0, most = 0, done = 0;
};

asio::awaitable<void> busy(load& l, std::chrono::milliseconds d) {
    l.most = std::max(l.most, ++l.active);
    co_await sleep_for(d);
    --l.active;
    ++l.done;
}

asio::awaitable<void> bounded_concurrency(world& w) {
    auto conn = co_await w.connect();
    const auto q = w.unique("conc");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(q, {.auto_delete = false});
    std::vector<std::string> bodies;
    for (int i = 0; i < 12; ++i) bodies.push_back(std::to_string(i));
    co_await publish_all(conn, q, bodies);
    worker_options o;
    o.queues = {q};
    o.prefetch = 10;
    o.concurrency = 3;
    worker wk{conn, o};
    load l;
    auto watch = [](worker& wk2, load& ld) -> asio::awaitable<void> {
        stop_at_end guard{wk2};
        co_await wait_until([&] { return ld.done == 12; }, 20s, "12 handlings");
    };
    co_await both(wk.run([&l](message_context&) { return busy(l, 20ms); }), watch(wk, l));
    CHECK(l.most == 3);
    CHECK(wk.stats().succeeded == 12);
    CHECK((co_await depth(ch, q)) == 0);
    co_await ch.delete_queue(q);
    co_await ch.delete_queue(q + ".dlq");
}

asio::awaitable<void> drain_finishes_in_flight(world& w, bool deadline_passes) {
    auto conn = co_await w.connect();
    const auto q = w.unique("drain");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(q);
    const std::vector<std::string> bodies{"1", "2", "3", "4", "5", "6"};
    co_await publish_all(conn, q, bodies);
    worker_options o;
    o.queues = {q};
    o.prefetch = 4;
    o.concurrency = 2;
    o.drain_timeout = deadline_passes ? 100ms : 10s;
    worker wk{conn, o};
    load l;
    auto stopper = [](worker& wk2, load& ld) -> asio::awaitable<void> {
        co_await wait_until([&] { return ld.active == 2; }, 10s, "two handlers running");
        wk2.stop();
    };
    const std::chrono::milliseconds handling = deadline_passes ? 30s : 200ms;
    const auto started = std::chrono::steady_clock::now();
    co_await both(wk.run([&l, handling](message_context&) { return busy(l, handling); }),
                  stopper(wk, l));
    const auto took = std::chrono::steady_clock::now() - started;
    const auto st = wk.stats();
    if (deadline_passes) {
        CHECK(took < 10s);  // not the handlers' 30 s
        CHECK(st.succeeded == 0);
        CHECK((co_await depth(ch, q)) == 6);  // nothing lost: all requeued
    } else {
        CHECK(st.succeeded == 2);  // the two in flight finished and were acked
        CHECK((co_await depth(ch, q)) == 4);
    }
    CHECK(st.in_flight == 0);
    co_await ch.delete_queue(q);
    co_await ch.delete_queue(q + ".dlq");
}

asio::awaitable<verdict> decide(int& retry_forever_handlings, message_context& m) {
    if (m.body() == "ack") co_return verdict::ack();
    if (m.body() == "dead") co_return verdict::dead_letter("not worth retrying");
    ++retry_forever_handlings;
    co_return verdict::retry("still failing");
}

asio::awaitable<void> verdicts_and_poison(world& w) {
    auto conn = co_await w.connect();
    const auto q = w.unique("verdicts");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(q);
    const std::vector<std::string> bodies{"ack", "dead", "retry-forever"};
    co_await publish_all(conn, q, bodies);
    worker_options o;
    o.queues = {q};
    o.retry = retry_policy::immediate(3);
    worker wk{conn, o};
    int retry_forever_handlings = 0;
    auto watch = [](worker& wk2) -> asio::awaitable<void> {
        stop_at_end guard{wk2};
        co_await wait_until(
            [&] { return wk2.stats().dead_lettered == 2 && wk2.stats().succeeded == 1; }, 20s,
            "one ack and two dead letters");
    };
    co_await both(wk.run([&retry_forever_handlings](message_context& m) {
        return decide(retry_forever_handlings, m);
    }),
                  watch(wk));
    CHECK(retry_forever_handlings == 3);  // a poison message never spins
    std::vector<std::string> dead;
    while (auto d = co_await ch.get(q + ".dlq", {.no_ack = true})) {
        dead.push_back(d->body() + ":" + header_text(d->properties(), "x-attempts") + ":" +
                       header_text(d->properties(), "x-exception-message"));
    }
    std::sort(dead.begin(), dead.end());
    CHECK(dead ==
          std::vector<std::string>{"dead:1:not worth retrying", "retry-forever:3:still failing"});
    co_await ch.delete_queue(q);
    co_await ch.delete_queue(q + ".dlq");
}

asio::awaitable<void> broker_cancels_consumer(world& w) {
    auto conn = co_await w.connect();
    const auto q = w.unique("doomed");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(q);
    worker_options o;
    o.queues = {q};
    o.retry = retry_policy::none();
    worker wk{conn, o};
    auto deleter = [](channel& c, std::string queue) -> asio::awaitable<void> {
        co_await sleep_for(50ms);
        co_await c.delete_queue(queue);
    };
    try {
        co_await both(wk.run([](message_context&) -> asio::awaitable<void> { co_return; }),
                      deleter(ch, q));
        FAIL("the worker went on silently without its queue");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find(q) != std::string::npos);
    }
    co_await ch.delete_queue(q + ".dlq");
}

}  // namespace

TEST_CASE(
    "delayed retries: exponential backoff with jitter on simulated time, then the error queue") {
    world w(clock_kind::simulated);
    w.run(backoff_on_simulated_time(w));
}
TEST_CASE("bounded concurrency: never more handlers than asked") {
    world w;
    w.run(bounded_concurrency(w));
}
TEST_CASE("graceful stop: in-flight handlers finish and are acked, the rest is requeued") {
    world w;
    w.run(drain_finishes_in_flight(w, false));
}
TEST_CASE("graceful stop: handlers still running at the deadline are cancelled and requeued") {
    world w;
    w.run(drain_finishes_in_flight(w, true));
}
TEST_CASE(
    "verdicts: ack, dead_letter at once, retry up to max_attempts (a poison message never spins)") {
    world w;
    w.run(verdicts_and_poison(w));
}
TEST_CASE("a consumer cancelled by the broker is an error, not a silent stop") {
    world w;
    w.run(broker_cancels_consumer(w));
}
asio::awaitable<void> bad_options(world& w) {
    auto conn = co_await w.connect();
    worker_options none;
    CHECK_THROWS_AS((worker{conn, none}), std::invalid_argument);
    worker_options over;
    over.queues = {"q"};
    over.prefetch = 2;
    over.concurrency = 3;
    CHECK_THROWS_AS((worker{conn, over}), std::invalid_argument);
    CHECK_THROWS_AS(retry_policy::exponential(3, 1s, 2.0, 1h, 0.3), std::invalid_argument);
    CHECK_THROWS_AS(retry_policy::exponential(0, 1s), std::invalid_argument);
}

TEST_CASE("bad options are refused") {
    world w;
    w.run(bad_options(w));
}
