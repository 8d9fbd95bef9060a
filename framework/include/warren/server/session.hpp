#pragma once
// One AMQP 0-9-1 server connection as a pure state machine: bytes in, bytes out. It does the
// protocol-header check, SASL, tune, connection/channel lifecycle, content assembly, error
// replies (channel vs connection, as RabbitMQ) and encodes the broker's events. It does no I/O,
// so the TCP listener, the embedded broker and the tests drive the same code.

#include <warren/broker/broker.hpp>
#include <warren/broker/connection.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/route_lookahead.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>
#include <warren/server/session_options.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::server {

class session final : private broker::client_sink {
  public:
    session(broker::broker& b, session_options options, std::string peer, bool peer_is_loopback);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Processes received bytes (any split): copies them into the input buffer, then as
    /// input_received(). Output produced goes to the output buffer.
    void feed(std::string_view bytes);
    /// For a transport that reads in place (no copy): writable space for at least `n` received
    /// bytes, valid until input_received() or the next input_space()/feed().
    std::span<char> input_space(std::size_t n);
    /// The transport wrote `n` bytes at the start of the last input_space(): parses the frames
    /// they complete and handles them. After the session finished, input is dropped.
    void input_received(std::size_t n);

    /// A reference to bytes of a message body, sent in place (gather write) instead of being
    /// copied into the output: `bytes` goes on the wire just before byte `at` of the owned
    /// output. `msg` keeps the body alive until the write is done.
    struct splice {
        std::size_t at = 0;
        broker::message_ptr msg;
        std::string_view bytes;
    };
    /// Pending output: owned bytes with message bodies spliced in.
    struct output {
        std::string bytes;
        std::vector<splice> splices;
        std::size_t size() const noexcept;
        void clear() noexcept {
            bytes.clear();
            splices.clear();
        }
    };
    /// Bodies of at least this many bytes are spliced rather than copied.
    static constexpr std::size_t splice_threshold = 4096;

    /// Moves pending output into `into` (which is cleared first); false if there was none.
    bool take_output(output& into);
    /// Same, flattened into contiguous bytes (copies spliced bodies; for tests and tools).
    bool take_output(std::string& into);
    bool has_output() const noexcept { return !out_.empty(); }
    /// The transport finished writing `n` bytes taken earlier.
    void output_written(std::size_t n);

    /// Publisher flow control: true while this connection published into a queue whose
    /// consumers are far behind (see broker::connection::backlogged) and its last input carried
    /// a publish. The transport then pauses reading briefly before the next read. A connection
    /// that only consumes and acks now is not slowed by a backlog it published earlier: its
    /// acks are what drains that backlog.
    bool input_throttled() const noexcept {
        return conn_ && state_ == state::open && published_in_last_input_ && conn_->backlogged();
    }

    /// Called whenever output becomes pending (the transport's writer waits on this).
    void set_output_callback(std::function<void()> cb) { on_output_ = std::move(cb); }

    /// True once the connection is finished: flush the output, then close the transport.
    bool finished() const noexcept { return finished_; }
    /// True when the session finished because the client sent connection.close (answered with
    /// close-ok): the transport then leaves the socket open until the client closes it.
    bool client_closed() const noexcept { return client_closed_; }
    /// True after connection.open-ok (the handshake timeout no longer applies).
    bool opened() const noexcept { return state_ == state::open || state_ == state::closing; }
    /// Negotiated heartbeat in seconds (0 = none), valid after tune-ok.
    std::uint16_t heartbeat() const noexcept { return heartbeat_; }

    /// Appends a heartbeat frame (the transport's timer decided one is due).
    void send_heartbeat();
    /// The transport closed or failed: release broker state (requeue unacked, drop exclusive
    /// queues). Idempotent.
    void transport_closed();
    /// Server-initiated close (shutdown, heartbeat timeout is transport_closed instead).
    void close(protocol::reply_code code, std::string_view text);

    const std::string& peer() const noexcept { return peer_; }
    /// True after the server sent connection.close and waits for close-ok (the transport
    /// gives up after a short timeout).
    bool closing() const noexcept { return state_ == state::closing; }

  private:
    enum class state { header, start_ok, tune_ok, open_wait, open, closing, done };
    struct channel_slot;
    friend struct channel_methods;

    // client_sink: the broker's events, handed out after the broker call that raised them
    void on_events(std::span<broker::event> events) override;
    bool writable(std::size_t queued_bytes) const noexcept override;
    void handle_event(broker::events::delivery& e);
    void handle_event(broker::events::consumer_cancelled& e);
    void handle_event(broker::events::returned& e);
    void handle_event(broker::events::confirm& e);
    void handle_event(broker::events::channel_closed& e);
    void handle_event(broker::events::tx_committed& e);
    /// After a call into the broker: has its events handed out (to this session and others)
    /// before anything else is written, so that output follows the order things happened in.
    void after_broker() { broker_.flush_events(); }
    /// after_broker(), passing `r` (the broker call's result) through.
    template <class R>
    R&& flushed(R&& r) {
        after_broker();
        return std::forward<R>(r);
    }

    /// Handles the complete frames in the input buffer (and reports a bad one).
    void handle_frames();
    /// Names the basic.publish frames in the input buffer to the routing look-ahead.
    void scan_publishes();
    std::uint32_t frame_limit() const noexcept;
    void handle_frame(const protocol::frame_view& f);
    void handle_connection_method(const protocol::frame_view& f);
    void handle_channel_frame(const protocol::frame_view& f);
    void handle_channel_method(channel_slot& slot, protocol::method& m);
    bool handle_hot_method(channel_slot& slot, std::string_view payload);
    void handle_content_header(channel_slot& slot, const protocol::frame_view& f);
    void handle_content_body(channel_slot& slot, const protocol::frame_view& f);
    void complete_publish(channel_slot& slot);
    void handle_start_ok(const protocol::connection_start_ok& m);
    void handle_tune_ok(const protocol::connection_tune_ok& m);
    void handle_open(const protocol::connection_open& m);

    void send_start();
    /// Appends the body frames of `m`; with `keep`, a large body is spliced, not copied.
    void append_body(std::uint16_t channel, const broker::message& m,
                     const broker::message_ptr* keep);
    template <class M>
    void send(std::uint16_t channel, const M& m);
    void notify();
    void flush_confirms();
    void flush_confirms(channel_slot& slot);

    void connection_error(protocol::reply_code code, std::string_view text, std::uint16_t class_id,
                          std::uint16_t method_id);
    void channel_error(channel_slot& slot, protocol::reply_code code, std::string_view text,
                       std::uint16_t class_id, std::uint16_t method_id);
    void protocol_error(const boost::system::error_code& ec, const protocol::frame_view* f);
    void framing_error(const protocol::frame_fault& fault);
    channel_slot* slot_for(std::uint16_t id);
    void teardown();

    broker::broker& broker_;
    session_options options_;
    std::string peer_;
    bool peer_is_loopback_;
    state state_ = state::header;
    bool finished_ = false;
    bool client_closed_ = false;
    protocol::frame_parser parser_;
    std::string out_;
    std::vector<splice> splices_;
    std::size_t spliced_bytes_ = 0;
    std::size_t in_flight_ = 0;
    mutable bool blocked_ = false;
    std::function<void()> on_output_;
    std::uint16_t channel_max_ = 0;
    std::uint32_t frame_max_ = 0;
    std::uint16_t heartbeat_ = 0;
    std::string user_;
    std::string mechanism_;
    bool cancel_notify_ = false;
    bool auth_failure_close_ = false;
    std::unique_ptr<broker::connection> conn_;
    std::vector<std::unique_ptr<channel_slot>> channels_;
    std::vector<std::uint16_t> confirm_dirty_;
    mutable bool notified_ = false;
    bool in_feed_ = false;                  // confirms are coalesced until the end of feed()
    bool published_in_last_input_ = false;  // see input_throttled()
    broker::route_lookahead lookahead_;
};

}  // namespace warren::server
