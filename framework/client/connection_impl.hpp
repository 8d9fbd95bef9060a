#pragma once
// Private: the connection's state, its reader/writer/heartbeat coroutines and the handshake.

#include "detail/signal.hpp"

#include <warren/client/connection.hpp>
#include <warren/client/detail/transport.hpp>
#include <warren/client/error.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <string>

namespace warren::detail {

class connection_impl : public std::enable_shared_from_this<connection_impl> {
  public:
    using clock = std::chrono::steady_clock;
    enum class state { handshake, open, closing, closed };

    connection_impl(asio::any_io_executor ex, std::unique_ptr<transport> t, uri params);
    ~connection_impl();

    /// Starts the coroutines and the handshake; returns when connection.open-ok arrived.
    /// Throws connection_error.
    static asio::awaitable<void> open(std::shared_ptr<connection_impl> self);
    static asio::awaitable<void> close(std::shared_ptr<connection_impl> self);
    /// Starts connection.close without waiting (destructor of the public handle).
    void close_in_background();

    const asio::any_io_executor& executor() const noexcept { return ex_; }
    state current_state() const noexcept { return state_; }
    bool is_open() const noexcept { return state_ == state::open; }
    bool blocked() const noexcept { return blocked_; }
    /// Throws the connection's error unless it is open.
    void check_open() const;
    std::exception_ptr error() const noexcept { return error_; }

    std::uint16_t channel_max() const noexcept { return channel_max_; }
    std::uint32_t frame_max() const noexcept { return frame_max_; }
    std::uint16_t heartbeat() const noexcept { return heartbeat_; }
    const protocol::field_table& server_properties() const noexcept { return server_properties_; }

    // Output: frames are appended to one buffer that the writer sends in one write per batch.
    template <class M>
    void send(std::uint16_t channel, const M& m) {
        protocol::append_method_frame(out_, channel, m);
        write_wake_.notify();
    }
    void send_content(std::uint16_t channel, const protocol::basic_publish& m,
                      const protocol::basic_properties& props, std::string_view body);
    /// Waits while publishing must pause: blocked by the broker or output above high water.
    /// Throws connection_error once closed; operation_aborted on cancellation.
    asio::awaitable<void> wait_publishable();
    bool publishable() const noexcept;

    // Channels.
    /// Reserves the lowest free channel id; throws channel_error(resource_error) if none.
    std::uint16_t reserve_channel(const std::shared_ptr<channel_impl>& ch);
    /// The channel's close handshake ended: the id is free again.
    void release_channel(std::uint16_t id) noexcept;
    /// The channel's last handle went away while open: close it in the background.
    void orphan_channel(std::uint16_t id, bool close_sent);

  private:
    struct channel_entry {
        std::weak_ptr<channel_impl> channel;
        bool orphaned = false;
    };

    static asio::awaitable<void> read_loop(std::shared_ptr<connection_impl> self);
    static asio::awaitable<void> write_loop(std::shared_ptr<connection_impl> self);
    static asio::awaitable<void> tick_loop(std::shared_ptr<connection_impl> self);
    void spawn(asio::awaitable<void> (*loop)(std::shared_ptr<connection_impl>));

    /// false: stop reading.
    bool handle_frame(const protocol::frame_view& f);
    void handle_connection_method(protocol::method& m);
    void handle_start(const protocol::connection_start& m);
    void handle_tune(const protocol::connection_tune& m);
    void handle_orphan_frame(std::uint16_t id, const protocol::frame_view& f);
    /// Ends the connection: fails every channel and waiter with `error`, flushes, closes.
    void finish(std::exception_ptr error);
    void fail_protocol(protocol::reply_code code, std::string text);
    void on_tick();
    void close_transport();

    asio::any_io_executor ex_;
    std::unique_ptr<transport> transport_;
    uri params_;
    state state_ = state::handshake;
    std::exception_ptr error_;
    bool blocked_ = false;
    bool close_after_flush_ = false;
    bool transport_closed_ = false;
    std::string out_;
    std::size_t high_water_ = 1u << 20;
    signal write_wake_;
    signal publishable_;
    signal state_changed_;
    asio::steady_timer tick_;
    clock::time_point started_, last_read_, last_write_, closing_since_;
    protocol::frame_parser parser_;
    std::uint16_t channel_max_ = 0;
    std::uint32_t frame_max_ = 0;
    std::uint16_t heartbeat_ = 0;
    protocol::field_table server_properties_;
    std::map<std::uint16_t, channel_entry> channels_;
};

}  // namespace warren::detail
