// The client against a scripted AMQP server on a loopback socket: behaviour that no real broker
// shows on demand (a peer that goes silent, connection.blocked). The fake server speaks just
// enough AMQP: the handshake, channel.open-ok, connection.close-ok; the test sends anything else.
#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/error.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace protocol = warren::protocol;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// A frame the client sent, copied out of the parser.
struct frame {
    protocol::frame_type type;
    std::uint16_t channel;
    std::string payload;

    bool is_heartbeat() const { return type == protocol::frame_type::heartbeat; }
    template <class M>
    bool is() const {
        if (type != protocol::frame_type::method) return false;
        auto m = protocol::decode_method(payload);
        return m && std::holds_alternative<M>(*m);
    }
};

class fake_server {
  public:
    explicit fake_server(asio::io_context& io)
        : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), socket_(io) {}

    std::string uri() const {
        return "amqp://guest:guest@127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
               "/%2F";
    }

    /// Accepts one client and runs the handshake, proposing `heartbeat` seconds.
    asio::awaitable<void> accept_and_handshake(std::uint16_t heartbeat) {
        socket_ = co_await acceptor_.async_accept(asio::use_awaitable);
        std::string header(protocol::protocol_header.size(), '\0');
        co_await asio::async_read(socket_, asio::buffer(header), asio::use_awaitable);
        REQUIRE(header == protocol::protocol_header);
        send(0, protocol::connection_start{});
        REQUIRE((co_await next_frame())->is<protocol::connection_start_ok>());
        send(0, protocol::connection_tune{
                    .channel_max = 16, .frame_max = 131072, .heartbeat = heartbeat});
        REQUIRE((co_await next_frame())->is<protocol::connection_tune_ok>());
        REQUIRE((co_await next_frame())->is<protocol::connection_open>());
        send(0, protocol::connection_open_ok{});
    }

    /// Writes one method frame. Small blocking writes on loopback keep frames in order without
    /// a writer coroutine.
    template <class M>
    void send(std::uint16_t channel, const M& m) {
        std::string out;
        protocol::append_method_frame(out, channel, m);
        asio::write(socket_, asio::buffer(out));
    }

    /// The next frame from the client, std::nullopt at end of stream.
    asio::awaitable<std::optional<frame>> next_frame() {
        for (;;) {
            auto r = parser_.next();
            REQUIRE(r.has_value());
            if (*r) co_return frame{(*r)->type, (*r)->channel, std::string((*r)->payload)};
            std::array<char, 4096> buf;
            auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buf),
                                                            asio::as_tuple(asio::use_awaitable));
            if (ec) co_return std::nullopt;
            parser_.feed(std::string_view(buf.data(), n));
        }
    }

    /// Answers what a broker must answer (channel.open, connection.close) and records every
    /// frame, until the client goes away.
    asio::awaitable<void> serve() {
        while (auto f = co_await next_frame()) {
            received.push_back(*f);
            if (f->is<protocol::channel_open>()) send(f->channel, protocol::channel_open_ok{});
            if (f->is<protocol::basic_consume>()) {
                auto m = std::get<protocol::basic_consume>(*protocol::decode_method(f->payload));
                if (!m.nowait)
                    send(f->channel, protocol::basic_consume_ok{.consumer_tag = m.consumer_tag});
                consumer_tags.push_back(m.consumer_tag);
            }
            if (f->is<protocol::connection_close>()) send(0, protocol::connection_close_ok{});
        }
    }

    /// Records every frame and answers nothing: a peer that hangs after the handshake.
    asio::awaitable<void> record_only() {
        while (auto f = co_await next_frame()) received.push_back(*f);
    }

    void send_heartbeat() {
        std::string out;
        protocol::append_heartbeat(out);
        asio::write(socket_, asio::buffer(out));
    }

    std::size_t count_heartbeats() const {
        std::size_t n = 0;
        for (const auto& f : received) n += f.is_heartbeat() ? 1 : 0;
        return n;
    }
    template <class M>
    std::size_t count() const {
        std::size_t n = 0;
        for (const auto& f : received) n += f.is<M>() ? 1 : 0;
        return n;
    }

    /// Writes `bytes` as they are, without blocking the thread (it may exceed what the socket
    /// buffers take at once).
    asio::awaitable<void> write_raw(std::string bytes) {
        co_await asio::async_write(socket_, asio::buffer(bytes), asio::use_awaitable);
    }

    std::vector<frame> received;
    /// The tags of the basic.consume frames answered by serve().
    std::vector<std::string> consumer_tags;

  private:
    tcp::acceptor acceptor_;
    tcp::socket socket_;
    protocol::frame_parser parser_;
};

asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> aw) {
    auto f = asio::co_spawn(io, std::move(aw), asio::use_future);
    io.run();
    return f.get();
}

void log_failure(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        FAIL_CHECK("fake server: " << x.what());
    }
}

// --- heartbeats -----------------------------------------------------------------------------

asio::awaitable<void> silent_peer(asio::io_context& io, fake_server& server) {
    asio::co_spawn(io, server.accept_and_handshake(1), log_failure);
    auto conn = co_await warren::connect(io, server.uri());
    CHECK(conn.heartbeat() == 1);  // the server's proposal, the URI has no heartbeat=
    // From now on the server reads (and records) but never answers: not even channel.open-ok.
    asio::co_spawn(io, server.record_only(), log_failure);
    const auto start = clock_type::now();
    try {
        (void)co_await conn.open_channel();
        FAIL("open_channel completed although the server never answered");
    } catch (const warren::connection_error& e) {
        CHECK(e.code() == asio::error::timed_out);
        CHECK(std::string(e.what()).find("missed heartbeats") != std::string::npos);
    }
    const auto waited = clock_type::now() - start;
    // The client gives up after two heartbeat intervals (2 s) without reading anything; `start`
    // is a little after its last read, so allow for a slow machine.
    CHECK(waited >= 1500ms);
    CHECK_FALSE(conn.is_open());
    // Operations after the failure throw the same error.
    CHECK_THROWS_AS((void)co_await conn.open_channel(), warren::connection_error);
}

TEST_CASE("heartbeats: sent while idle, and a silent server is detected") {
    asio::io_context io;
    fake_server server(io);
    run(io, silent_peer(io, server));
    // In the ~2 s before giving up the client wrote only channel.open, so it sent heartbeats
    // every half interval to keep the server from timing it out.
    CHECK(server.count<protocol::channel_open>() == 1);
    CHECK(server.count_heartbeats() >= 2);
}

asio::awaitable<void> quiet_but_alive(asio::io_context& io, fake_server& server) {
    asio::co_spawn(io, server.accept_and_handshake(1), log_failure);
    auto conn = co_await warren::connect(io, server.uri());
    asio::co_spawn(io, server.serve(), log_failure);
    // Neither side has anything to say for 3 s (three heartbeat intervals); the server sends
    // only heartbeats, so the client must not time out.
    for (int i = 0; i < 8; ++i) {
        server.send_heartbeat();
        co_await sleep(400ms);
    }
    CHECK(conn.is_open());
    auto ch = co_await conn.open_channel();
    CHECK(ch.is_open());
    co_await conn.close();
}

TEST_CASE("heartbeats: an idle connection whose server sends heartbeats stays open") {
    asio::io_context io;
    fake_server server(io);
    run(io, quiet_but_alive(io, server));
    CHECK(server.count_heartbeats() >= 2);
    CHECK(server.count<protocol::connection_close>() == 1);
}

// --- connection.blocked ---------------------------------------------------------------------

asio::awaitable<void> blocked_publish(asio::io_context& io, fake_server& server) {
    asio::co_spawn(io, server.accept_and_handshake(0), log_failure);
    auto conn = co_await warren::connect(io, server.uri());
    asio::co_spawn(io, server.serve(), log_failure);
    auto ch = co_await conn.open_channel();

    server.send(0, protocol::connection_blocked{.reason = "low on memory"});
    for (int i = 0; i < 500 && !conn.blocked(); ++i) co_await sleep(10ms);
    REQUIRE(conn.blocked());

    bool published = false;
    asio::co_spawn(
        io,
        [](warren::channel& c, bool& done) -> asio::awaitable<void> {
            co_await c.publish("", "q", "while blocked");
            done = true;
        }(ch, published),
        log_failure);
    co_await sleep(500ms);
    CHECK_FALSE(published);                               // publish() is still waiting ...
    CHECK(server.count<protocol::basic_publish>() == 0);  // ... and sent nothing
    CHECK(conn.is_open());                                // blocked is not an error

    server.send(0, protocol::connection_unblocked{});
    for (int i = 0; i < 500 && !published; ++i) co_await sleep(10ms);
    CHECK(published);
    CHECK_FALSE(conn.blocked());
    for (int i = 0; i < 500 && server.count<protocol::basic_publish>() == 0; ++i)
        co_await sleep(10ms);
    co_await conn.close();
}

TEST_CASE("connection.blocked: publishes wait until connection.unblocked") {
    asio::io_context io;
    fake_server server(io);
    run(io, blocked_publish(io, server));
    REQUIRE(server.count<protocol::basic_publish>() == 1);
    // The publish went out after unblocked, whole: method, header, body "while blocked".
    bool body_seen = false;
    for (const auto& f : server.received) {
        if (f.type == protocol::frame_type::body)
            body_seen = body_seen || f.payload == "while blocked";
    }
    CHECK(body_seen);
}

// --- reading deliveries ------------------------------------------------------------------

// A socket read of up to 256 KiB holds ~3,000 small deliveries. The reader hands them to the
// consumer in turns of at most 768 frames (256 such deliveries) instead of decoding the whole
// read first: the deliveries a consumer has buffered stay few (their strings then come from
// the thread's pool, and stay in the CPU's cache), and other work on the thread gets a turn.
asio::awaitable<void> burst_of_deliveries(asio::io_context& io, fake_server& server,
                                          std::size_t& most_buffered) {
    asio::co_spawn(io, server.accept_and_handshake(0), log_failure);
    auto conn = co_await warren::connect(io, server.uri());
    asio::co_spawn(io, server.serve(), log_failure);
    auto ch = co_await conn.open_channel();
    auto stream = co_await ch.consume("q", {.no_ack = true});
    REQUIRE(server.consumer_tags.size() == 1);

    constexpr std::size_t count = 5000;
    std::string burst;
    for (std::size_t i = 1; i <= count; ++i) {
        protocol::append_basic_deliver(burst, ch.id(), server.consumer_tags[0], i, false, "", "q");
        protocol::append_content_header_raw(burst, ch.id(), 16, std::string(2, '\0'));
        protocol::append_body_frames(burst, ch.id(), "0123456789abcdef", 131072);
    }
    CHECK(burst.size() > 256 * 1024);  // more than a read takes
    asio::co_spawn(io, server.write_raw(std::move(burst)), log_failure);

    std::uint64_t expected = 1;
    while (expected <= count) {
        auto d = co_await stream.next();
        REQUIRE(d.has_value());
        CHECK(d->delivery_tag() == expected);  // in order, none lost
        ++expected;
        most_buffered = std::max(most_buffered, stream.buffered());
    }
    co_await conn.close();
}

TEST_CASE("deliveries: a large read reaches the consumer in turns, in order") {
    asio::io_context io;
    fake_server server(io);
    std::size_t most_buffered = 0;
    run(io, burst_of_deliveries(io, server, most_buffered));
    // At most two turns' worth are ever waiting (the reader adds a turn when the consumer is
    // down to 256 buffered); one whole read would be ~3,000.
    CHECK(most_buffered > 0);
    CHECK(most_buffered <= 2 * 256 + 1);
}

}  // namespace
