#include "pipe_stream.hpp"

#include <warren/broker/broker.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/detail/embedded_directory.hpp>
#include <warren/client/detail/transport.hpp>
#include <warren/client/uri.hpp>
#include <warren/embedded/embedded_broker.hpp>
#include <warren/server/broker_timer.hpp>
#include <warren/server/detail/stream_connection.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <stdexcept>
#include <vector>

namespace warren {

namespace asio = boost::asio;
using server_connection = server::detail::stream_connection<detail::pipe_end>;

namespace detail {

/// Simulated time (embedded_options::manual_clock): starts at the real time, moves only by
/// embedded_broker::advance.
struct manual_time {
    broker::time_point now = broker::clock::now();
};

struct embedded_state {
    embedded_state(asio::io_context& io, embedded_options o, std::shared_ptr<manual_time> mt)
        : strand(asio::make_strand(io)),
          brk(with_clock(o.broker, mt)),
          options(std::move(o)),
          manual(std::move(mt)),
          timer(strand, brk) {
        if (!manual) timer.start();  // simulated time has no real deadlines to wait for
    }
    asio::any_io_executor strand;
    broker::broker brk;
    embedded_options options;
    std::shared_ptr<manual_time> manual;
    std::vector<std::weak_ptr<server_connection>> connections;
    std::uint64_t next_id = 0;
    server::broker_timer timer;  // declared after brk: stops before the broker goes

    static broker::broker_options with_clock(broker::broker_options o,
                                             const std::shared_ptr<manual_time>& mt) {
        if (mt) o.clock = [mt] { return mt->now; };
        return o;
    }
    void prune() {
        std::erase_if(connections, [](const auto& w) { return w.expired(); });
    }
};

}  // namespace detail

namespace {

asio::awaitable<connection> connect_embedded(std::shared_ptr<detail::embedded_state> st,
                                             uri params) {
    using namespace std::chrono_literals;
    auto pipe = std::make_shared<detail::pipe_state>(st->strand, st->options.pipe_capacity);
    auto server_side = std::make_shared<server_connection>(
        detail::pipe_end(pipe, 1, st), st->brk, st->options.session,
        "embedded-" + std::to_string(++st->next_id), true, 10s, 3s);
    st->prune();
    st->connections.push_back(server_side);
    server_side->start();
    auto t =
        std::make_unique<detail::stream_transport<detail::pipe_end>>(detail::pipe_end(pipe, 0));
    co_return co_await detail::open_connection(st->strand, std::move(t), std::move(params));
}

}  // namespace

embedded_broker::embedded_broker(asio::io_context& io, embedded_options options)
    : io_(io),
      state_(std::make_shared<detail::embedded_state>(
          io, options, options.manual_clock ? std::make_shared<detail::manual_time>() : nullptr)) {
    std::weak_ptr<detail::embedded_state> weak = state_;
    detail::register_embedded(
        io_, state_->options.name, [weak](warren::uri params) -> asio::awaitable<connection> {
            auto st = weak.lock();
            if (!st) throw std::logic_error("warren::embedded_broker: the broker is gone");
            return connect_embedded(std::move(st), std::move(params));
        });
}

embedded_broker::~embedded_broker() { detail::unregister_embedded(io_, state_->options.name); }

std::string embedded_broker::uri() const { return "embedded://" + state_->options.name; }

broker::broker& embedded_broker::get_broker() noexcept { return state_->brk; }

asio::any_io_executor embedded_broker::get_executor() const { return state_->strand; }

void embedded_broker::stop(protocol::reply_code code, std::string text) {
    for (auto& w : state_->connections) {
        if (auto c = w.lock()) c->shutdown(code, text);
    }
    state_->prune();
}

std::size_t embedded_broker::connection_count() const {
    state_->prune();
    return state_->connections.size();
}

void embedded_broker::advance(std::chrono::milliseconds d) {
    auto& mt = state_->manual;
    if (!mt)
        throw std::logic_error(
            "warren::embedded_broker::advance: the broker was not made with manual_clock");
    const auto target = mt->now + d;
    for (;;) {
        const auto next = state_->brk.tick(mt->now);
        if (next > target) break;  // also broker::never
        mt->now = std::max(next, mt->now + std::chrono::nanoseconds(1));
    }
    mt->now = target;
    state_->brk.tick(mt->now);
}

}  // namespace warren
