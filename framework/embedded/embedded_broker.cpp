#include "pipe_stream.hpp"
#include <warren/server/detail/stream_connection.hpp>

#include <warren/client/detail/transport.hpp>
#include <warren/embedded/embedded_broker.hpp>
#include <warren/server/broker_timer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <vector>

namespace warren {

namespace asio = boost::asio;
using server_connection = server::detail::stream_connection<detail::pipe_end>;

namespace detail {
struct embedded_state {
    embedded_state(asio::io_context& io, embedded_options o)
        : strand(asio::make_strand(io)), brk(o.broker), options(o), timer(strand, brk) {
        timer.start();
    }
    asio::any_io_executor strand;
    broker::broker brk;
    embedded_options options;
    std::vector<std::weak_ptr<server_connection>> connections;
    std::uint64_t next_id = 0;
    server::broker_timer timer;  // declared after brk: stops before the broker goes

    void prune() {
        std::erase_if(connections, [](const auto& w) { return w.expired(); });
    }
};
}  // namespace detail

namespace {

asio::awaitable<connection> connect_embedded(std::shared_ptr<detail::embedded_state> st, uri params) {
    using namespace std::chrono_literals;
    auto pipe = std::make_shared<detail::pipe_state>(st->strand, st->options.pipe_capacity);
    auto server_side = std::make_shared<server_connection>(
        detail::pipe_end(pipe, 1, st), st->brk, st->options.session,
        "embedded-" + std::to_string(++st->next_id), true, 10s, 3s);
    st->prune();
    st->connections.push_back(server_side);
    server_side->start();
    auto t = std::make_unique<detail::stream_transport<detail::pipe_end>>(detail::pipe_end(pipe, 0));
    co_return co_await detail::open_connection(st->strand, std::move(t), std::move(params));
}

}  // namespace

embedded_broker::embedded_broker(asio::io_context& io, embedded_options options)
    : state_(std::make_shared<detail::embedded_state>(io, options)) {}

embedded_broker::~embedded_broker() = default;

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

asio::awaitable<connection> connect(embedded_broker& b, uri params) {
    return connect_embedded(b.state_, std::move(params));
}

asio::awaitable<connection> connect(asio::io_context&, embedded_broker& b, uri params) {
    return connect_embedded(b.state_, std::move(params));
}

asio::awaitable<connection> connect(embedded_broker& b) { return connect_embedded(b.state_, uri()); }

asio::awaitable<connection> connect(asio::io_context&, embedded_broker& b) {
    return connect_embedded(b.state_, uri());
}

}  // namespace warren
