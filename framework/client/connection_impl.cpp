#include "channel_impl.hpp"
#include "connection_impl.hpp"

#include <warren/common/spawn.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <vector>

namespace warren::detail {

namespace {

using protocol::reply_code;

connection_error closed_by_client() {
    return connection_error(reply_code::success, "connection closed by the client");
}

}  // namespace

connection_impl::connection_impl(asio::any_io_executor ex, std::unique_ptr<transport> t, uri params)
    : ex_(std::move(ex)),
      transport_(std::move(t)),
      params_(std::move(params)),
      write_wake_(ex_),
      publishable_(ex_),
      state_changed_(ex_),
      tick_(ex_) {}

connection_impl::~connection_impl() = default;

void connection_impl::spawn(asio::awaitable<void> (*loop)(std::shared_ptr<connection_impl>)) {
    warren::spawn(ex_, loop(shared_from_this()), "AMQP client connection coroutine");
}

asio::awaitable<void> connection_impl::open(std::shared_ptr<connection_impl> self) {
    self->started_ = self->last_read_ = self->last_write_ = clock::now();
    self->out_.append(protocol::protocol_header);
    self->spawn(&read_loop);
    self->spawn(&write_loop);
    self->spawn(&tick_loop);
    while (self->state_ == state::handshake) {
        try {
            co_await self->state_changed_.wait();
        } catch (const boost::system::system_error&) {
            self->finish(std::make_exception_ptr(
                connection_error(asio::error::operation_aborted, "connect cancelled")));
            throw;
        }
    }
    self->check_open();
}

asio::awaitable<void> connection_impl::close(std::shared_ptr<connection_impl> self) {
    self->close_in_background();
    while (self->state_ != state::closed) co_await self->state_changed_.wait();
}

void connection_impl::close_in_background() {
    if (state_ == state::open) {
        state_ = state::closing;
        closing_since_ = clock::now();
        send(0, protocol::connection_close{.reply_code = 200, .reply_text = "Goodbye"});
    } else if (state_ == state::handshake) {
        finish(std::make_exception_ptr(closed_by_client()));
    }
}

void connection_impl::check_open() const {
    if (state_ == state::open) return;
    if (error_) std::rethrow_exception(error_);
    throw closed_by_client();
}

void connection_impl::send_content(std::uint16_t channel, const protocol::basic_publish& m,
                                   const protocol::basic_properties& props, std::string_view body) {
    protocol::append_method_frame(out_, channel, m);
    protocol::append_content_header(
        out_, channel, protocol::content_header{.body_size = body.size(), .properties = props});
    protocol::append_body_frames(out_, channel, body, frame_max_);
    write_wake_.notify();
}

bool connection_impl::publishable() const noexcept {
    return !blocked_ && out_.size() < high_water_;
}

asio::awaitable<void> connection_impl::wait_publishable() {
    for (;;) {
        check_open();
        if (publishable()) co_return;
        co_await publishable_.wait();
    }
}

std::uint16_t connection_impl::reserve_channel(const std::shared_ptr<channel_impl>& ch) {
    check_open();
    const std::uint32_t max = channel_max_ == 0 ? 65535 : channel_max_;
    std::uint32_t id = 1;
    for (const auto& [used, entry] : channels_) {
        if (used != id) break;
        ++id;
    }
    if (id > max) {
        throw channel_error(reply_code::resource_error,
                            "RESOURCE_ERROR - all " + std::to_string(max) + " channels are in use");
    }
    const auto cid = static_cast<std::uint16_t>(id);
    channels_[cid] = channel_entry{ch, false};
    return cid;
}

void connection_impl::release_channel(std::uint16_t id) noexcept { channels_.erase(id); }

void connection_impl::orphan_channel(std::uint16_t id, bool close_sent) {
    auto it = channels_.find(id);
    if (it == channels_.end()) return;
    if (state_ != state::open) {
        channels_.erase(it);
        return;
    }
    it->second.orphaned = true;
    if (!close_sent) send(id, protocol::channel_close{.reply_code = 200, .reply_text = "Goodbye"});
}

asio::awaitable<void> connection_impl::read_loop(std::shared_ptr<connection_impl> self) {
    // Read straight into the frame parser. Ask for little at first (an idle connection costs a
    // few KB) and for more while reads fill what was offered, up to 256 KiB per read.
    constexpr std::size_t max_read = 256 * 1024;
    // Such a read holds thousands of small deliveries. Handle at most 768 frames per turn, then
    // let the consumers on this thread take what was decoded: decoding a whole read first would
    // leave thousands of deliveries waiting, out of the CPU's cache and beyond the string pool
    // (a malloc and a free per name).
    constexpr std::size_t frames_per_turn = 768;
    std::size_t want = 4096;
    for (;;) {
        auto space = self->parser_.prepare(want);
        auto [ec, n] =
            co_await self->transport_->read_some(asio::buffer(space.data(), space.size()));
        if (self->state_ == state::closed) break;
        if (ec) {
            self->finish(
                std::make_exception_ptr(connection_error(ec, "connection lost: " + ec.message())));
            break;
        }
        self->last_read_ = clock::now();
        self->parser_.commit(n);
        if (n == space.size() && want < max_read) want = std::min(want * 4, max_read);
        for (std::size_t handled = 1;; ++handled) {
            auto r = self->parser_.next();
            if (!r) {
                self->fail_protocol(reply_code::frame_error,
                                    "FRAME_ERROR - " + r.error().message());
                break;
            }
            if (!*r || !self->handle_frame(**r)) break;
            if (handled % frames_per_turn == 0) {
                co_await asio::post(co_await asio::this_coro::executor, use_nothrow);
                if (self->state_ == state::closed) break;
            }
        }
        if (self->state_ == state::closed) break;
    }
}

asio::awaitable<void> connection_impl::write_loop(std::shared_ptr<connection_impl> self) {
    std::string buf;
    for (;;) {
        if (!self->out_.empty() && !self->transport_closed_) {
            buf.swap(self->out_);
            auto [ec, n] = co_await self->transport_->write(asio::buffer(buf));
            buf.clear();
            self->last_write_ = clock::now();
            if (ec) {
                self->finish(std::make_exception_ptr(
                    connection_error(ec, "connection lost: " + ec.message())));
                self->close_transport();
                break;
            }
            self->publishable_.notify();
            continue;
        }
        if (self->close_after_flush_ || self->transport_closed_) {
            self->close_transport();
            break;
        }
        co_await self->write_wake_.wait_nothrow();
    }
}

asio::awaitable<void> connection_impl::tick_loop(std::shared_ptr<connection_impl> self) {
    using namespace std::chrono;
    while (self->state_ != state::closed) {
        const bool handshaking = self->state_ == state::handshake;
        const auto hb = seconds(self->heartbeat_);
        self->tick_.expires_after(handshaking       ? milliseconds(100)
                                  : hb.count() != 0 ? duration_cast<milliseconds>(hb) / 2
                                                    : milliseconds(1000));
        co_await self->tick_.async_wait(use_nothrow);
        if (self->state_ == state::closed) break;
        self->on_tick();
    }
}

void connection_impl::on_tick() {
    using namespace std::chrono;
    const auto now = clock::now();
    const auto hb = seconds(heartbeat_);
    std::string why;
    if (state_ == state::handshake && params_.connection_timeout != 0 &&
        now - started_ > milliseconds(params_.connection_timeout)) {
        why = "handshake timed out";
    } else if (state_ == state::closing && now - closing_since_ > seconds(5)) {
        why = "no connection.close-ok from the server";
    } else if (state_ != state::handshake && hb.count() != 0 && now - last_read_ > 2 * hb) {
        why = "missed heartbeats from the server, timeout: " + std::to_string(hb.count()) + "s";
    }
    if (!why.empty()) {
        finish(std::make_exception_ptr(connection_error(asio::error::timed_out, why)));
        close_transport();
        return;
    }
    if (state_ != state::handshake && hb.count() != 0 && now - last_write_ >= hb / 2) {
        protocol::append_heartbeat(out_);
        write_wake_.notify();
    }
}

void connection_impl::close_transport() {
    if (transport_closed_) return;
    transport_closed_ = true;
    transport_->close();
    write_wake_.notify();
}

void connection_impl::finish(std::exception_ptr error) {
    if (state_ == state::closed) return;
    state_ = state::closed;
    error_ = std::move(error);
    auto channels = std::move(channels_);
    channels_.clear();
    for (auto& [id, entry] : channels) {
        if (auto ch = entry.channel.lock()) ch->on_connection_closed(error_);
    }
    state_changed_.notify();
    publishable_.notify();
    tick_.cancel();
    close_after_flush_ = true;
    write_wake_.notify();
}

void connection_impl::fail_protocol(reply_code code, std::string text) {
    if (state_ == state::closed) return;
    send(0, protocol::connection_close{.reply_code = static_cast<std::uint16_t>(code),
                                       .reply_text = text});
    finish(std::make_exception_ptr(connection_error(code, std::move(text))));
}

}  // namespace warren::detail
