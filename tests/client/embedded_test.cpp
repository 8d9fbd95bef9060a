// The embedded broker chosen by URI, and its simulated clock.
#include <warren/embedded.hpp>
#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <doctest/doctest.h>
#include <stdexcept>

using namespace warren;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

template <class T>
T run(asio::io_context& io, asio::awaitable<T> aw) {
    auto f = asio::co_spawn(io, std::move(aw), asio::use_future);
    io.run();
    io.restart();
    return f.get();
}

asio::awaitable<void> connect_only(asio::io_context& io, std::string uri_text) {
    auto conn = co_await connect(io, uri_text);
    co_await conn.close();
}

asio::awaitable<void> round_trip(asio::io_context& io, std::string uri_text, std::string queue) {
    auto conn = co_await connect(io, uri_text);
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue(queue);
    co_await ch.publish("", queue, "via " + uri_text);
    auto d = co_await ch.get(queue, {.no_ack = true});
    REQUIRE(d);
    CHECK(d->body() == "via " + uri_text);
    co_await conn.close();
}

asio::awaitable<std::uint32_t> queue_depth(asio::io_context& io, std::string uri_text,
                                           std::string queue) {
    auto conn = co_await connect(io, uri_text);
    auto ch = co_await conn.open_channel();
    const auto n = (co_await ch.declare_queue(queue, {.passive = true})).message_count;
    co_await conn.close();
    co_return n;
}

}  // namespace

TEST_CASE("embedded://: the URI alone picks the embedded broker") {
    asio::io_context io;
    embedded_broker broker{io};
    CHECK(broker.uri() == "embedded://");
    run(io, round_trip(io, "embedded://", "q"));
    run(io, round_trip(io, "embedded:///%2F", "q2"));  // vhost "/" spelled out
}

TEST_CASE("embedded://name: several embedded brokers in one io_context, each its own") {
    asio::io_context io;
    embedded_options a_opts;
    a_opts.name = "a";
    embedded_options b_opts;
    b_opts.name = "b";
    embedded_broker a{io, a_opts};
    embedded_broker b{io, b_opts};
    run(io, round_trip(io, "embedded://a", "only-in-a"));
    CHECK_THROWS_AS(run(io, queue_depth(io, "embedded://b", "only-in-a")), channel_error);
    CHECK_THROWS_AS((embedded_broker{io, a_opts}), std::logic_error);  // the name is taken
}

TEST_CASE("embedded://: no such broker is a clear connection_error") {
    asio::io_context io;
    try {
        run(io, connect_only(io, "embedded://nobody"));
        FAIL("connected to a broker that does not exist");
    } catch (const connection_error& e) {
        CHECK(e.code() == asio::error::not_found);
        CHECK(std::string(e.what()).find("no embedded broker named 'nobody'") != std::string::npos);
    }
    { embedded_broker gone{io}; }
    CHECK_THROWS_AS(run(io, connect_only(io, "embedded://")),
                    connection_error);  // unregistered with it
}

TEST_CASE("embedded://: wrong credentials and unknown vhosts are refused as over TCP") {
    asio::io_context io;
    embedded_broker broker{io};
    try {
        run(io, connect_only(io, "embedded://guest:nope@"));
        FAIL("login with a wrong password succeeded");
    } catch (const connection_error& e) {
        CHECK(e.code() == protocol::reply_code::access_refused);
    }
    CHECK_THROWS_AS(run(io, connect_only(io, "embedded:///no-such-vhost")), connection_error);
}

TEST_CASE("manual_clock: an hour of TTL passes in advance(), in deadline order") {
    asio::io_context io;
    embedded_options o;
    o.manual_clock = true;
    embedded_broker broker{io, o};
    run(io, [](asio::io_context& ctx) -> asio::awaitable<void> {
        auto conn = co_await connect(ctx, "embedded://");
        auto ch = co_await conn.open_channel();
        co_await ch.declare_queue("work");
        co_await ch.declare_queue("delay", {},
                                  field_table()
                                      .with("x-message-ttl", std::int32_t{3'600'000})
                                      .with("x-dead-letter-exchange", std::string(""))
                                      .with("x-dead-letter-routing-key", std::string("work")));
        co_await ch.publish("", "delay", "later");
        co_await conn.close();
    }(io));
    CHECK(run(io, queue_depth(io, "embedded://", "delay")) == 1);
    broker.advance(59min);
    CHECK(run(io, queue_depth(io, "embedded://", "delay")) == 1);
    CHECK(run(io, queue_depth(io, "embedded://", "work")) == 0);
    broker.advance(2min);
    CHECK(run(io, queue_depth(io, "embedded://", "delay")) == 0);
    CHECK(run(io, queue_depth(io, "embedded://", "work")) == 1);
}

TEST_CASE("advance() without manual_clock is a logic error") {
    asio::io_context io;
    embedded_broker broker{io};
    CHECK_THROWS_AS(broker.advance(1s), std::logic_error);
}
