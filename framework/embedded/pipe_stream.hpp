#pragma once
// Private: an in-memory, bounded, full-duplex byte stream with the Asio stream interface
// (async_read_some / async_write_some / close), used between the client and the server session
// of an embedded connection. Like a socket, each direction holds at most `capacity` unread
// bytes: a writer waits until the reader drains, so backpressure reaches the producer exactly
// as over TCP. Not thread-safe: both ends run on one strand.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

namespace warren::detail {

namespace asio = boost::asio;

struct pipe_state {
    struct direction {
        explicit direction(const asio::any_io_executor& ex)
            : readable(ex, asio::steady_timer::time_point::max()),
              writable(ex, asio::steady_timer::time_point::max()) {}
        std::string data;
        std::size_t read_pos = 0;
        asio::steady_timer readable;  ///< cancelled when data arrives or an end closes
        asio::steady_timer writable;  ///< cancelled when data is consumed or an end closes
        std::size_t unread() const noexcept { return data.size() - read_pos; }
    };

    pipe_state(const asio::any_io_executor& executor, std::size_t cap)
        : ex(executor),
          capacity(std::max<std::size_t>(cap, 1)),
          dirs{direction(ex), direction(ex)} {}

    void close(int end) noexcept {
        closed[end] = true;
        for (auto& d : dirs) {
            d.readable.cancel();
            d.writable.cancel();
        }
    }

    asio::any_io_executor ex;
    std::size_t capacity;
    direction dirs[2];  ///< dirs[e] carries what end e writes
    bool closed[2] = {false, false};
};

template <class Buffers>
struct pipe_read_op {
    std::shared_ptr<pipe_state> st;
    int end;
    Buffers buffers;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code = {}) {
        if (!started) {  // never complete inside the initiating function
            started = true;
            asio::post(st->ex, std::move(self));
            return;
        }
        auto& d = st->dirs[1 - end];
        if (st->closed[end]) return self.complete(asio::error::operation_aborted, 0);
        if (asio::buffer_size(buffers) == 0) return self.complete({}, 0);
        if (d.unread() != 0) {
            const std::size_t n =
                asio::buffer_copy(buffers, asio::buffer(d.data.data() + d.read_pos, d.unread()));
            d.read_pos += n;
            if (d.read_pos == d.data.size()) {
                d.data.clear();
                d.read_pos = 0;
            } else if (d.read_pos > st->capacity) {
                d.data.erase(0, d.read_pos);
                d.read_pos = 0;
            }
            d.writable.cancel();
            return self.complete({}, n);
        }
        if (st->closed[1 - end]) return self.complete(asio::error::eof, 0);
        d.readable.async_wait(std::move(self));
    }
};

template <class Buffers>
struct pipe_write_op {
    std::shared_ptr<pipe_state> st;
    int end;
    Buffers buffers;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code = {}) {
        if (!started) {
            started = true;
            asio::post(st->ex, std::move(self));
            return;
        }
        auto& d = st->dirs[end];
        if (st->closed[end]) return self.complete(asio::error::operation_aborted, 0);
        if (st->closed[1 - end]) return self.complete(asio::error::broken_pipe, 0);
        const std::size_t total = asio::buffer_size(buffers);
        if (total == 0) return self.complete({}, 0);
        if (d.unread() < st->capacity) {
            const std::size_t n = std::min(total, st->capacity - d.unread());
            const std::size_t old = d.data.size();
            d.data.resize(old + n);
            asio::buffer_copy(asio::buffer(d.data.data() + old, n), buffers, n);
            d.readable.cancel();
            return self.complete({}, n);
        }
        d.writable.async_wait(std::move(self));
    }
};

/// One end of a pipe. Move-only; `keep_alive` is held as long as the end exists (the server end
/// keeps the embedded broker alive until its session is destroyed).
class pipe_end {
  public:
    using executor_type = asio::any_io_executor;
    using shutdown_type = asio::socket_base::shutdown_type;
    static constexpr shutdown_type shutdown_both = asio::socket_base::shutdown_both;

    pipe_end(std::shared_ptr<pipe_state> st, int end, std::shared_ptr<void> keep_alive = {})
        : st_(std::move(st)), end_(end), keep_alive_(std::move(keep_alive)) {}

    executor_type get_executor() const noexcept { return st_->ex; }

    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        return asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            pipe_read_op<MutableBufferSequence>{st_, end_, buffers}, token, st_->ex);
    }

    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        return asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            pipe_write_op<ConstBufferSequence>{st_, end_, buffers}, token, st_->ex);
    }

    void shutdown(shutdown_type, boost::system::error_code& ec) noexcept {
        ec = {};
        st_->close(end_);
    }
    void close(boost::system::error_code& ec) noexcept {
        ec = {};
        st_->close(end_);
    }

  private:
    std::shared_ptr<pipe_state> st_;
    int end_;
    std::shared_ptr<void> keep_alive_;
};

}  // namespace warren::detail
