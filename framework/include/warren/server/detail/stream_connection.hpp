#pragma once
// Internal to Warren (warren::server::detail, not a stable API): runs a session over any Asio
// stream: one reader, one writer (a gather write per batch of pending output), one timer for
// handshake, close and heartbeat deadlines. The TCP listener and the embedded broker (over its
// in-memory stream) both use it, which is why it is under include/.

#include <warren/common/log.hpp>
#include <warren/common/spawn.hpp>
#include <warren/server/session.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace warren::server::detail {

namespace asio = boost::asio;
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

/// Type-erased handle the server keeps for shutdown.
class connection_base {
  public:
    virtual void shutdown(protocol::reply_code code, std::string_view text) = 0;

  protected:
    ~connection_base() = default;
};

template <class Stream>
class stream_connection final : public connection_base,
                                public std::enable_shared_from_this<stream_connection<Stream>> {
  public:
    using clock = std::chrono::steady_clock;

    stream_connection(Stream stream, broker::broker& b, session_options options, std::string peer,
                      bool loopback, std::chrono::seconds handshake_timeout,
                      std::chrono::seconds close_timeout)
        : stream_(std::move(stream)),
          session_(b, options, std::move(peer), loopback),
          wake_(stream_.get_executor()),
          timer_(stream_.get_executor()),
          pause_(stream_.get_executor()),
          handshake_timeout_(handshake_timeout),
          close_timeout_(close_timeout) {}

    /// Starts the coroutines; `on_done` runs once all of them ended.
    void start() {
        auto self = this->shared_from_this();
        session_.set_output_callback([this] { wake_.cancel(); });
        started_ = last_read_ = last_write_ = clock::now();
        auto ex = stream_.get_executor();
        spawn(ex, read_loop(self), "AMQP connection reader");
        spawn(ex, write_loop(self), "AMQP connection writer");
        spawn(ex, timer_loop(self), "AMQP connection timer");
    }

    void shutdown(protocol::reply_code code, std::string_view text) override {
        if (closed_) return;
        session_.close(code, text);
        if (session_.finished()) wake_.cancel();
    }

    session& get_session() noexcept { return session_; }

  private:
    using self_ptr = std::shared_ptr<stream_connection>;

    asio::awaitable<void> read_loop(self_ptr) {
        // Reads straight into the session's input buffer (no copy). Start small (an idle
        // connection should cost a few KB) and ask for more while reads fill what was offered.
        std::size_t size = initial_read_size;
        while (!closed_) {
            // At most `size` per read even when the parser's buffer has more room: flow
            // control below looks at the input between reads, so a read is its quantum.
            auto space = session_.input_space(size).first(size);
            auto [ec, n] = co_await stream_.async_read_some(
                asio::buffer(space.data(), space.size()), use_nothrow);
            if (ec) break;
            last_read_ = clock::now();
            // Once the session finished, what arrives is dropped: the reader goes on until the
            // peer closes (write_loop ends the connection then, or the timer after a while).
            session_.input_received(n);
            if (session_.finished()) {
                wake_.cancel();
                continue;
            }
            if (n == space.size() && size < read_size) size *= 4;
            // Publisher flow control: let the consumers catch up, for at most throttle_max per
            // read (a connection that also consumes from that queue still gets its acks read).
            for (auto waited = throttle_step;
                 waited <= throttle_max && !closed_ && session_.input_throttled();
                 waited += throttle_step) {
                pause_.expires_after(throttle_step);
                co_await pause_.async_wait(use_nothrow);
            }
        }
        if (!session_.finished()) session_.transport_closed();
        reader_done_ = true;
        wake_.cancel();
    }

    asio::awaitable<void> write_loop(self_ptr) {
        // One gather write per turn: the owned output with large message bodies referenced in
        // place (session::splice), never copied into it.
        session::output buf;
        std::vector<asio::const_buffer> iov;
        for (;;) {
            if (session_.take_output(buf)) {
                iov.clear();
                std::size_t pos = 0;
                for (const auto& s : buf.splices) {
                    if (s.at > pos) iov.emplace_back(buf.bytes.data() + pos, s.at - pos);
                    iov.emplace_back(s.bytes.data(), s.bytes.size());
                    pos = s.at;
                }
                if (pos < buf.bytes.size())
                    iov.emplace_back(buf.bytes.data() + pos, buf.bytes.size() - pos);
                const std::size_t total = buf.size();
                auto [ec, n] = co_await asio::async_write(stream_, iov, use_nothrow);
                buf.splices.clear();  // release the bodies now, not at the next turn
                session_.output_written(total);
                if (ec) {
                    session_.transport_closed();
                    break;
                }
                last_write_ = clock::now();
                continue;
            }
            if (reader_done_ || closed_) break;
            if (session_.finished() && !lingering_) linger();
            wake_.expires_at(clock::time_point::max());
            co_await wake_.async_wait(use_nothrow);
        }
        close_transport();
    }

    // The session is finished and its last frames are written (connection.close-ok, or the
    // server's connection.close). Closing the socket now, with input the peer sent unread, would
    // make the kernel reset the connection, and the peer would lose those frames (a client may
    // send its connection.close ahead of channel frames it queued earlier). So the reader goes
    // on reading and dropping until the peer closes, for at most close_timeout, as RabbitMQ's
    // reader does. After the client's own connection.close the socket stays open meanwhile (as
    // RabbitMQ's); otherwise we stop sending (FIN), so the peer sees the end at once.
    void linger() {
        lingering_ = true;
        lingering_since_ = clock::now();
        if (session_.client_closed()) return;
        if constexpr (requires(Stream & st, boost::system::error_code & e) {
                          st.shutdown(Stream::shutdown_send, e);
                      }) {
            boost::system::error_code ec;
            stream_.shutdown(Stream::shutdown_send, ec);
        }
    }

    asio::awaitable<void> timer_loop(self_ptr) {
        clock::time_point closing_since{};
        while (!closed_) {
            timer_.expires_after(std::chrono::milliseconds(500));
            co_await timer_.async_wait(use_nothrow);
            if (closed_) break;
            auto now = clock::now();
            if (lingering_) {
                if (now - lingering_since_ > close_timeout_) close_transport();
                continue;
            }
            if (!session_.opened() && now - started_ > handshake_timeout_) {
                log(log_level::warning,
                    "closing connection " + session_.peer() + ": handshake timeout");
                session_.transport_closed();
                close_transport();
                break;
            }
            if (session_.closing()) {
                if (closing_since == clock::time_point{}) closing_since = now;
                if (now - closing_since > close_timeout_) {
                    session_.transport_closed();
                    close_transport();
                    break;
                }
            }
            auto hb = std::chrono::seconds(session_.heartbeat());
            if (hb.count() == 0 || !session_.opened()) continue;
            if (now - last_read_ > 2 * hb) {
                log(log_level::warning, "closing connection " + session_.peer() +
                                            ": missed heartbeats from client, timeout: " +
                                            std::to_string(hb.count()) + "s");
                session_.transport_closed();
                close_transport();
                break;
            }
            if (now - last_write_ >= hb / 2) {
                session_.send_heartbeat();
                last_write_ = now;
            }
        }
    }

    void close_transport() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ec;
        stream_.shutdown(Stream::shutdown_both, ec);
        stream_.close(ec);
        wake_.cancel();
        timer_.cancel();
        pause_.cancel();
    }

    // A throttled reader checks every 250 us: a 1 ms step let a drained backlog (500 messages
    // are well under 1 ms of deliveries) leave the consumers idle until the next check.
    static constexpr std::chrono::microseconds throttle_step{250};
    static constexpr std::chrono::milliseconds throttle_max{20};
    static constexpr std::size_t initial_read_size = 1024;
    static constexpr std::size_t read_size = std::size_t{256} * 1024;
    Stream stream_;
    session session_;
    asio::steady_timer wake_;
    asio::steady_timer timer_;
    asio::steady_timer pause_;
    std::chrono::seconds handshake_timeout_;
    std::chrono::seconds close_timeout_;
    clock::time_point started_, last_read_, last_write_;
    bool reader_done_ = false;
    bool closed_ = false;
    bool lingering_ = false;  // finished: reading and dropping until the peer closes (linger())
    clock::time_point lingering_since_{};
};

}  // namespace warren::server::detail
