// rpc_client / rpc_server: 1,000 concurrent calls, timeouts and late replies, remote errors,
// unroutable requests, typed calls, a broker restart mid-call.
#include "service_support.hpp"

#include <warren/service/json.hpp>
#include <warren/service/rpc.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/describe.hpp>

#include <doctest/doctest.h>
#include <set>

using namespace warren;
using namespace warren::test;
using namespace boost::asio::experimental::awaitable_operators;

namespace calc {
struct request {
    int a = 0;
    int b = 0;
};
BOOST_DESCRIBE_STRUCT(request, (), (a, b))
struct response {
    int sum = 0;
};
BOOST_DESCRIBE_STRUCT(response, (), (sum))
}  // namespace calc

namespace {

/// The server declares its queue when it starts; a client that publishes before that would get
/// NO_ROUTE. Declared first (with the server's arguments), as a deployment would.
asio::awaitable<void> declare_request_queue(connection& conn, const std::string& queue) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(queue);
    co_await ch.close();
}

struct stop_at_end {
    rpc_server& s;
    ~stop_at_end() { s.stop(); }
};

/// Echoes the body after a delay that depends on it, so that replies come back out of order.
asio::awaitable<std::string> echo_later(message_context& m) {
    if (m.body() == "fail") throw std::runtime_error("asked to fail");
    if (m.body().starts_with("slow")) co_await sleep_for(300ms);
    co_await sleep_for(std::chrono::milliseconds(std::hash<std::string>{}(m.body()) % 5));
    co_return "echo:" + m.body();
}

asio::awaitable<void> one_call(rpc_client& rpc, std::string queue, int i, int& ok) {
    auto reply = co_await rpc.call(queue, std::to_string(i), {}, 20s);
    if (reply.body() == "echo:" + std::to_string(i)) ++ok;
}

asio::awaitable<void> many_calls(connection& conn, std::string queue, rpc_server& srv, int& ok) {
    stop_at_end guard{srv};
    auto rpc = co_await rpc_client::open(conn);
    auto ex = co_await asio::this_coro::executor;
    int running = 1000;
    for (int i = 0; i < 1000; ++i) {
        asio::co_spawn(ex, one_call(rpc, queue, i, ok), [&running](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    MESSAGE("a call failed: " << x.what());
                }
            }
            --running;
        });
    }
    co_await wait_until([&] { return running == 0; }, 60s, "1,000 calls");
    CHECK(rpc.pending() == 0);
    co_await rpc.close();
}

asio::awaitable<void> thousand_concurrent_calls(world& w) {
    auto server_conn = co_await w.connect();
    auto client_conn = co_await w.connect();
    rpc_server_options so;
    so.queue = w.unique("rpc");
    co_await declare_request_queue(server_conn, so.queue);
    so.concurrency = 50;
    rpc_server server{server_conn, so};
    int ok = 0;
    co_await both(server.run(echo_later), many_calls(client_conn, so.queue, server, ok));
    CHECK(ok == 1000);  // each call got its own reply
    CHECK(server.stats().succeeded == 1000);
    auto ch = co_await server_conn.open_channel();
    co_await ch.delete_queue(so.queue);
}

asio::awaitable<void> errors_and_timeouts(connection& conn, std::string queue, rpc_server& srv) {
    stop_at_end guard{srv};
    auto rpc = co_await rpc_client::open(conn);
    try {
        co_await rpc.call(queue, "fail", {}, 5s);
        FAIL("an error reply was taken for a result");
    } catch (const rpc_error& e) {
        CHECK(e.why() == rpc_error::reason::remote);
        CHECK(std::string(e.what()) == "asked to fail");
    }
    try {
        co_await rpc.call(queue, "slow", {}, 50ms);
        FAIL("a slow reply came in 50 ms");
    } catch (const timeout_error&) {
    }
    CHECK(rpc.pending() == 0);
    co_await wait_until([&] { return rpc.late_replies() == 1; }, 5s,
                        "the late reply to be dropped");
    // The client is fine after a timeout, and cancellation is a timeout's sibling.
    CHECK((co_await rpc.call(queue, "x", {}, 5s)).body() == "echo:x");
    try {
        co_await with_timeout(rpc.call(queue, "slow2", {}, 5s), 30ms);
        FAIL("not cancelled");
    } catch (const timeout_error&) {
    }
    CHECK(rpc.pending() == 0);
    try {
        co_await rpc.call("no-such-queue-" + queue, "x", {}, 5s);
        FAIL("a request to no queue got a reply");
    } catch (const rpc_error& e) {
        CHECK(e.why() == rpc_error::reason::unroutable);
    }
    co_await rpc.close();
}

asio::awaitable<void> remote_errors_timeouts_unroutable(world& w) {
    auto server_conn = co_await w.connect();
    auto client_conn = co_await w.connect();
    rpc_server_options so;
    so.queue = w.unique("rpc-errors");
    co_await declare_request_queue(server_conn, so.queue);
    rpc_server server{server_conn, so};
    co_await both(server.run(echo_later), errors_and_timeouts(client_conn, so.queue, server));
    auto ch = co_await server_conn.open_channel();
    co_await ch.delete_queue(so.queue);
}

asio::awaitable<calc::response> add(calc::request r) { co_return calc::response{r.a + r.b}; }

asio::awaitable<void> typed_calls(connection& conn, std::string queue, rpc_server& srv,
                                  rpc_client_options o) {
    stop_at_end guard{srv};
    auto rpc = co_await rpc_client::open(conn, o);
    if (o.replies == rpc_client_options::reply_queue::exclusive)
        CHECK(rpc.reply_to().starts_with("amq.gen-"));
    auto r = co_await rpc.call_as<calc::response>(queue, calc::request{2, 40}, 5s);
    CHECK(r.sum == 42);
    try {
        co_await rpc.call(queue, "not json", {}, 5s);
        FAIL("a request that does not decode got a result");
    } catch (const rpc_error& e) {
        CHECK(std::string(e.what()).starts_with("cannot decode the request"));
    }
    co_await rpc.close();
}

asio::awaitable<void> typed_rpc(world& w, rpc_client_options::reply_queue mode) {
    auto server_conn = co_await w.connect();
    auto client_conn = co_await w.connect();
    rpc_server_options so;
    so.queue = w.unique("rpc-typed");
    co_await declare_request_queue(server_conn, so.queue);
    rpc_server server{server_conn, so};
    rpc_client_options co;
    co.replies = mode;
    co_await both(server.run<calc::request, calc::response>(add),
                  typed_calls(client_conn, so.queue, server, co));
    auto ch = co_await server_conn.open_channel();
    co_await ch.delete_queue(so.queue);
}

asio::awaitable<void> call_during_restart(world& w, connection& conn) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("nobody-answers");
    auto rpc = co_await rpc_client::open(conn);
    auto restart = [](world& wd) -> asio::awaitable<void> {
        co_await sleep_for(50ms);
        wd.broker().stop();  // the broker goes away mid-call (connection.close 320)
    };
    const auto started = std::chrono::steady_clock::now();
    try {
        co_await (rpc.call("nobody-answers", "x", {}, 60s) && restart(w));
        FAIL("a call survived the broker's restart");
    } catch (const connection_error& e) {
        CHECK(e.code() == protocol::reply_code::connection_forced);
    }
    CHECK(std::chrono::steady_clock::now() - started < 10s);  // an error, not a hang
    try {
        co_await rpc.call("nobody-answers", "y", {}, 60s);
        FAIL("a call on a dead connection succeeded");
    } catch (const connection_error&) {
    }
}

asio::awaitable<void> broker_restart_mid_call(world& w) {
    auto conn = co_await w.connect();
    co_await call_during_restart(w, conn);
}

}  // namespace

TEST_CASE("rpc: 1,000 concurrent calls on one channel, each gets its own reply") {
    world w;
    w.run(thousand_concurrent_calls(w));
}
TEST_CASE(
    "rpc: remote errors, timeouts with late replies dropped, cancellation, unroutable requests") {
    world w;
    w.run(remote_errors_timeouts_unroutable(w));
}
TEST_CASE("rpc: typed request/response through JSON, direct reply-to") {
    world w;
    w.run(typed_rpc(w, rpc_client_options::reply_queue::direct));
}
TEST_CASE("rpc: typed request/response through JSON, an exclusive reply queue") {
    world w;
    w.run(typed_rpc(w, rpc_client_options::reply_queue::exclusive));
}
TEST_CASE("rpc: the broker going away mid-call is an error, not a hang") {
    world w;
    if (!w.embedded()) return;  // needs the broker in this process
    w.run(broker_restart_mid_call(w));
}
