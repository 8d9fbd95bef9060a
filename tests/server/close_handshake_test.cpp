// The close handshake with input still unread. A client may send connection.close (or its
// close-ok) ahead of channel frames it queued earlier; closing the socket with those unread
// made the kernel reset the connection, and the client never saw its close-ok. The server now
// reads and drops input until the client closes (RabbitMQ's reader does the same), for at most
// close_timeout. Checked over TCP (an in-process server), over an in-memory stream without a
// half-close (the path the embedded broker's stream takes) and through the embedded broker.
#include <warren/broker/broker.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/error.hpp>
#include <warren/common/log.hpp>
#include <warren/common/spawn.hpp>
#include <warren/embedded/embedded_broker.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/server/detail/stream_connection.hpp>
#include <warren/server/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace p = warren::protocol;
using asio::ip::tcp;
using warren::server::detail::use_nothrow;

namespace {

std::string handshake() {
    std::string in(p::protocol_header);
    p::connection_start_ok ok;
    ok.mechanism = "PLAIN";
    ok.response = std::string("\0guest\0guest", 12);
    ok.locale = "en_US";
    p::append_method_frame(in, 0, ok);
    p::connection_tune_ok tune;
    tune.channel_max = 2047;
    tune.frame_max = 131072;
    p::append_method_frame(in, 0, tune);
    p::connection_open open;
    open.virtual_host = "/";
    p::append_method_frame(in, 0, open);
    p::append_method_frame(in, 1, p::channel_open{});
    return in;
}

/// `mib` MiB of unroutable 64 KiB publishes on channel 1.
std::string publishes(std::size_t mib) {
    std::string out;
    const std::string body(64 * 1024, 'x');
    p::basic_publish pub;
    pub.routing_key = "nowhere";
    for (std::size_t i = 0; i < mib * 16; ++i) {
        p::append_method_frame(out, 1, pub);
        p::append_content_header(out, 1, p::content_header{60, body.size(), {}});
        p::append_body_frames(out, 1, body, 131072);
    }
    return out;
}

std::string method_frame(std::uint16_t channel, const p::method& m) {
    std::string out;
    p::append_method_frame(out, channel, m);
    return out;
}

/// Reads frames until one with class.method `ids` arrives on channel 0 (true) or the stream
/// ends or fails (false).
template <class Stream>
asio::awaitable<bool> read_until(Stream& s, std::string& pending,
                                 std::pair<std::uint16_t, std::uint16_t> ids) {
    char buf[65536];
    for (;;) {
        for (;;) {
            auto r = p::parse_frame(pending, 0);
            if (r.ec || r.consumed == 0) break;
            const auto got = p::peek_method_id(r.frame.payload);
            const bool match =
                r.frame.type == p::frame_type::method && r.frame.channel == 0 && got && *got == ids;
            pending.erase(0, r.consumed);
            if (match) co_return true;
        }
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_nothrow);
        if (ec) co_return false;
        pending.append(buf, n);
    }
}

/// Drives `io` until `done()` or a deadline (a hang fails the test instead of blocking it).
template <class Done>
bool drive(asio::io_context& io, Done done, std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) io.restart();  // out of work once: run_one_for would return at once
        io.run_one_for(std::chrono::milliseconds(50));
    }
    return done();
}

/// Runs `task` on `io` to its end; rethrows what it threw (a failed REQUIRE inside it).
void run_task(asio::io_context& io, asio::awaitable<void> task) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
        failure = e;
        done = true;
    });
    REQUIRE(drive(io, [&] { return done; }));
    if (failure) std::rethrow_exception(failure);
}

struct tcp_fixture {
    asio::io_context io;
    warren::broker::broker brk;
    warren::server::server srv{io, brk, warren::server::server_options{.port = 0, .session = {}}};
    tcp_fixture() {
        warren::set_log_level(warren::log_level::none);
        srv.start();
    }
    tcp::endpoint endpoint() const { return {asio::ip::make_address("127.0.0.1"), srv.port()}; }
};

struct run_result {
    boost::system::error_code write_error;
    bool write_done = false;
    bool got_reply = false;
};

asio::awaitable<void> write_all(tcp::socket& s, const std::string& bytes, run_result& r) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), use_nothrow);
    r.write_error = ec;
    r.write_done = true;
}

/// The client's connection.close goes out ahead of 16 MiB it queued before it: it must get its
/// close-ok, and its writes must all go through (none reset).
asio::awaitable<void> close_ahead_of_queued(tcp::endpoint ep, run_result& r) {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    p::connection_close close;
    close.reply_code = 200;
    close.reply_text = "bye";
    const std::string bytes = handshake() + publishes(1) + method_frame(0, close) + publishes(16);
    warren::spawn(s.get_executor(), write_all(s, bytes, r), "test writer");
    std::string pending;
    r.got_reply = co_await read_until(s, pending, {10, 51});
    while (!r.write_done) co_await asio::post(s.get_executor(), asio::use_awaitable);
}

/// The server closes (an error) while the client floods; the client's close-ok goes out ahead
/// of 8 MiB more it had queued. The server must end the connection cleanly: the client sees
/// the end of the stream (FIN), not a reset of its writes.
asio::awaitable<void> close_ok_ahead_of_queued(tcp::endpoint ep, run_result& r) {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    p::basic_qos bad;
    bad.prefetch_size = 5;  // 540 NOT_IMPLEMENTED: a connection error
    std::string pending;
    auto [ec1, n1] = co_await asio::async_write(s, asio::buffer(handshake() + method_frame(1, bad)),
                                                use_nothrow);
    REQUIRE_FALSE(ec1);
    const bool closed = co_await read_until(s, pending, {10, 50});
    REQUIRE(closed);
    const std::string rest = method_frame(0, p::connection_close_ok{}) + publishes(8);
    auto [ec2, n2] = co_await asio::async_write(s, asio::buffer(rest), use_nothrow);
    r.write_error = ec2;
    char buf[4096];
    auto [ec3, n3] = co_await s.async_read_some(asio::buffer(buf), use_nothrow);
    r.got_reply = ec3 == asio::error::eof;  // the server's FIN
}

/// beast's in-memory test stream with the calls stream_connection makes. Like the embedded
/// broker's pipe it has no half-close: shutdown() closes it.
class memory_stream {
  public:
    using executor_type = asio::any_io_executor;
    using shutdown_type = asio::socket_base::shutdown_type;
    static constexpr shutdown_type shutdown_both = asio::socket_base::shutdown_both;

    explicit memory_stream(boost::beast::test::stream s) : s_(std::move(s)) {}
    executor_type get_executor() { return s_.get_executor(); }
    template <class Buffers, class Token>
    auto async_read_some(const Buffers& b, Token&& t) {
        return s_.async_read_some(b, std::forward<Token>(t));
    }
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& b, Token&& t) {
        return s_.async_write_some(b, std::forward<Token>(t));
    }
    void shutdown(shutdown_type, boost::system::error_code& ec) {
        ec = {};
        s_.close();
    }
    void close(boost::system::error_code& ec) {
        ec = {};
        s_.close();
    }

  private:
    boost::beast::test::stream s_;
};

/// Over the in-memory stream: the client's close goes out ahead of 8 MiB, written in 64 KiB
/// pieces while the server runs. Every piece must go through (none refused), then close-ok.
asio::awaitable<void> close_ahead_in_memory(boost::beast::test::stream& client, run_result& r) {
    p::connection_close close;
    close.reply_code = 200;
    const std::string bytes = handshake() + publishes(1) + method_frame(0, close) + publishes(8);
    for (std::size_t at = 0; at < bytes.size() && !r.write_error; at += 65536) {
        const auto piece = std::string_view(bytes).substr(at, 65536);
        auto [ec, n] = co_await asio::async_write(client, asio::buffer(piece.data(), piece.size()),
                                                  use_nothrow);
        r.write_error = ec;
        co_await asio::post(client.get_executor(), asio::use_awaitable);  // let the server read
    }
    std::string pending;
    r.got_reply = co_await read_until(client, pending, {10, 51});
    client.close();
}

/// Through the embedded broker and the client library: 4 MiB of publishes, then close(). The
/// close must end with close-ok (the connection then reports "closed by the client", not a
/// lost transport).
asio::awaitable<void> publish_then_close(asio::io_context& io, warren::embedded_broker& b) {
    auto conn = co_await warren::connect(io, b.uri());
    auto ch = co_await conn.open_channel();
    const std::string body(64 * 1024, 'x');
    for (int i = 0; i < 64; ++i) co_await ch.publish("", "nowhere", body);
    co_await conn.close();
    try {
        co_await conn.open_channel();
        FAIL("open_channel after close() succeeded");
    } catch (const warren::connection_error& e) {
        CHECK(e.code() == p::reply_code::success);
        CHECK(std::string(e.what()) == "connection closed by the client");
    }
}

}  // namespace

TEST_CASE(
    "over TCP, a client's connection.close sent ahead of queued publishes gets its close-ok, every "
    "time") {
    tcp_fixture f;
    for (int i = 0; i < 5; ++i) {
        CAPTURE(i);
        run_result r;
        run_task(f.io, close_ahead_of_queued(f.endpoint(), r));
        CHECK(r.got_reply);
        CHECK_FALSE(r.write_error);
    }
    // Each client closed its socket after close-ok; the server closes its side then.
    CHECK(drive(f.io, [&] { return f.srv.connection_count() == 0; }));
}

TEST_CASE(
    "over TCP, after a server-initiated close the client's close-ok ahead of queued frames ends "
    "cleanly") {
    tcp_fixture f;
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        run_result r;
        run_task(f.io, close_ok_ahead_of_queued(f.endpoint(), r));
        CHECK(r.got_reply);
        CHECK_FALSE(r.write_error);
    }
}

TEST_CASE(
    "over an in-memory stream without half-close, close-ok reaches a client whose close went "
    "ahead") {
    asio::io_context io;
    warren::set_log_level(warren::log_level::none);
    warren::broker::broker brk;
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        boost::beast::test::stream client(io), server_end(io);
        client.connect(server_end);
        using connection = warren::server::detail::stream_connection<memory_stream>;
        auto conn = std::make_shared<connection>(memory_stream(std::move(server_end)), brk,
                                                 warren::server::session_options{}, "memory", true,
                                                 std::chrono::seconds(10), std::chrono::seconds(3));
        conn->start();
        std::weak_ptr<connection> alive = conn;
        conn.reset();
        run_result r;
        run_task(io, close_ahead_in_memory(client, r));
        CHECK(r.got_reply);
        CHECK_FALSE(r.write_error);
        // The client closed after close-ok: the server's side ends then.
        CHECK(drive(io, [&] { return alive.expired(); }));
    }
}

TEST_CASE(
    "through the embedded broker, a client that queues megabytes of publishes and closes gets "
    "close-ok") {
    asio::io_context io;
    warren::set_log_level(warren::log_level::none);
    warren::embedded_broker b{io};
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        run_task(io, publish_then_close(io, b));
    }
    CHECK(drive(io, [&] { return b.connection_count() == 0; }));
}
