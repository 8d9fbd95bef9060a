// Typed messages and codec errors, middleware and tracing headers, counters, offload.
#include "service_support.hpp"

#include <warren/service/json.hpp>
#include <warren/service/offload.hpp>
#include <warren/service/worker.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/describe.hpp>

#include <doctest/doctest.h>
#include <thread>

using namespace warren;
using namespace warren::test;
using namespace boost::asio::experimental::awaitable_operators;

namespace job_types {
struct job {
    std::string id;
    int size = 0;
};
BOOST_DESCRIBE_STRUCT(job, (), (id, size))
}  // namespace job_types
using job_types::job;

namespace {

struct stop_at_end {
    worker& w;
    ~stop_at_end() { w.stop(); }
};

asio::awaitable<void> publish_raw(connection& conn, std::string queue, std::string body,
                                  basic_properties p = {}) {
    auto ch = co_await conn.open_channel({.confirms = true});
    co_await ch.publish("", queue, std::move(body), std::move(p));
    co_await ch.close();
}

asio::awaitable<void> record(std::vector<job>& got, job j) {
    got.push_back(std::move(j));
    co_return;
}

asio::awaitable<void> typed_and_codec_errors(world& w) {
    auto conn = co_await w.connect();
    const auto q = w.unique("typed");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(q);
    const job first{
        "a", 3};  // named: a braced aggregate that owns memory must not sit in a co_await (GCC 12)
    co_await publish_raw(conn, q, json_codec::encode(first));
    co_await publish_raw(conn, q, "{not json");
    co_await publish_raw(conn, q, R"({"id": 7})");  // valid JSON, wrong shape
    worker_options o;
    o.queues = {q};
    o.retry = retry_policy::immediate(5);
    worker wk{conn, o};
    std::vector<job> got;
    auto watch = [](worker& wk2) -> asio::awaitable<void> {
        stop_at_end guard{wk2};
        co_await wait_until(
            [&] { return wk2.stats().succeeded == 1 && wk2.stats().dead_lettered == 2; }, 10s,
            "one job and two decode failures");
    };
    co_await both(wk.run<job>([&got](job j) { return record(got, std::move(j)); }), watch(wk));
    REQUIRE(got.size() == 1);
    CHECK(got[0].id == "a");
    CHECK(got[0].size == 3);
    CHECK(wk.stats().retried == 0);  // a decode failure is not retried
    for (int i = 0; i < 2; ++i) {
        auto d = co_await ch.get(q + ".dlq", {.no_ack = true});
        REQUIRE(d);
        CHECK(header_text(d->properties(), "x-attempts") == "1");
        CHECK(header_text(d->properties(), "x-exception-message")
                  .starts_with("cannot decode the message body: "));
    }
    co_await ch.delete_queue(q);
    co_await ch.delete_queue(q + ".dlq");
}

asio::awaitable<verdict> logging_mw(std::vector<std::string>& log, const char* name,
                                    message_context& m, const handler& next) {
    log.push_back(std::string(name) + " in");
    auto v = co_await next(m);
    log.push_back(std::string(name) + " out");
    co_return v;
}

asio::awaitable<void> emit(std::vector<std::string>& log, std::string out_queue,
                           message_context& m) {
    log.push_back("handler");
    basic_properties p;
    p.headers = field_table().with("x-own", "kept");
    co_await m.publish("", std::move(out_queue), "derived from " + m.body(), std::move(p));
}

asio::awaitable<void> middleware_and_tracing(world& w) {
    auto conn = co_await w.connect();
    const auto q = w.unique("mw");
    const auto out = w.unique("mw-out");
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(q);
    co_await ch.declare_queue(out);
    basic_properties in;
    in.headers = field_table()
                     .with("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                     .with("baggage", "tenant=7")
                     .with("x-not-propagated", "no");
    co_await publish_raw(conn, q, "input", std::move(in));
    std::vector<std::string> log;
    worker_options o;
    o.queues = {q};
    o.middleware.push_back([&log](message_context& m, const handler& next) {
        return logging_mw(log, "outer", m, next);
    });
    o.middleware.push_back([&log](message_context& m, const handler& next) {
        return logging_mw(log, "inner", m, next);
    });
    worker wk{conn, o};
    auto watch = [](worker& wk2) -> asio::awaitable<void> {
        stop_at_end guard{wk2};
        co_await wait_until([&] { return wk2.stats().succeeded == 1; }, 10s, "one handling");
    };
    // Named first: a lambda capturing a std::string by value must not be created inside a
    // co_await expression (GCC 12 destroys its captures twice; docs/client.md).
    auto handler = [&log, out](message_context& m) { return emit(log, out, m); };
    co_await both(wk.run(handler), watch(wk));
    CHECK(log ==
          std::vector<std::string>{"outer in", "inner in", "handler", "inner out", "outer out"});
    auto d = co_await ch.get(out, {.no_ack = true});
    REQUIRE(d);
    CHECK(d->body() == "derived from input");
    CHECK(header_text(d->properties(), "traceparent") ==
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    CHECK(header_text(d->properties(), "baggage") == "tenant=7");
    CHECK(header_text(d->properties(), "x-own") == "kept");
    CHECK(header_text(d->properties(), "x-not-propagated") == "<missing>");
    const auto st = wk.stats();
    CHECK(st.received == 1);
    CHECK(st.handling_time.count == 1);
    CHECK(st.in_flight == 0);
    co_await ch.delete_queue(q);
    co_await ch.delete_queue(out);
    co_await ch.delete_queue(q + ".dlq");
}

asio::awaitable<void> ticker(int& ticks, bool& stop) {
    while (!stop) {
        ++ticks;
        co_await sleep_for(1ms);
    }
}

asio::awaitable<void> offload_keeps_the_thread_free(world&) {
    const auto here = std::this_thread::get_id();
    int ticks = 0;
    bool stop = false;
    auto blocking = [](int& t, bool& s, std::thread::id caller) -> asio::awaitable<void> {
        auto where = co_await offload([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a blocking call
            return std::this_thread::get_id();
        });
        CHECK(where != caller);                       // it ran on the pool
        CHECK(std::this_thread::get_id() == caller);  // and resumed here
        CHECK(t >= 10);                               // while the thread kept working
        s = true;
        try {
            co_await offload([]() -> int { throw std::runtime_error("from the pool"); });
            FAIL("the exception was lost");
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()) == "from the pool");
        }
    };
    co_await both(blocking(ticks, stop, here), ticker(ticks, stop));
}

asio::awaitable<void> histogram_quantiles(world&) {
    warren::detail::worker_counters c;
    for (int i = 0; i < 90; ++i) {
        c.on_started();
        c.on_finished(std::chrono::microseconds(80));
    }
    for (int i = 0; i < 10; ++i) {
        c.on_started();
        c.on_finished(std::chrono::milliseconds(30));
    }
    const auto s = c.snapshot();
    CHECK(s.handling_time.count == 100);
    CHECK(s.handling_time.quantile(0.5) == std::chrono::microseconds(100));
    CHECK(s.handling_time.quantile(0.99) == std::chrono::microseconds(50000));
    CHECK(s.in_flight == 0);
    co_return;
}

}  // namespace

TEST_CASE(
    "typed handlers: JSON decoded into a struct; a body that does not decode goes to the DLQ at "
    "once") {
    world w;
    w.run(typed_and_codec_errors(w));
}
TEST_CASE("middleware runs around each handling in order; tracing headers reach the outputs") {
    world w;
    w.run(middleware_and_tracing(w));
}
TEST_CASE("offload: a blocking call runs on the pool and resumes on the caller's thread") {
    world w;
    w.run(offload_keeps_the_thread_free(w));
}
TEST_CASE("handling-time histogram quantiles") {
    world w;
    w.run(histogram_quantiles(w));
}
