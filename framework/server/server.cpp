#include <warren/broker/broker.hpp>
#include <warren/common/log.hpp>
#include <warren/server/broker_timer.hpp>
#include <warren/server/detail/stream_connection.hpp>
#include <warren/server/server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <list>

namespace warren::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using detail::use_nothrow;

namespace {
bool is_loopback(const asio::ip::address& a) {
    if (a.is_loopback()) return true;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
    }
    return false;
}
}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
    impl(asio::io_context& io_, broker::broker& b, server_options o)
        : io(io_), brk(b), options(std::move(o)), acceptor(io_), timer(io_.get_executor(), b) {}

    asio::io_context& io;
    broker::broker& brk;
    server_options options;
    tcp::acceptor acceptor;
    broker_timer timer;  // TTLs, queue expiry, consumer_timeout
    std::list<std::weak_ptr<detail::connection_base>> connections;
    bool stopped = false;

    void prune() {
        connections.remove_if([](const auto& w) { return w.expired(); });
    }

    asio::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
        while (!stopped) {
            auto [ec, sock] = co_await acceptor.async_accept(use_nothrow);
            if (ec) {
                if (ec == asio::error::operation_aborted || stopped) break;
                log(log_level::warning, "accept failed: " + ec.message());
                continue;
            }
            boost::system::error_code ignored;
            sock.set_option(tcp::no_delay(true), ignored);
            auto ep = sock.remote_endpoint(ignored);
            std::string peer = ep.address().to_string() + ":" + std::to_string(ep.port());
            log(log_level::info, "accepting AMQP connection from " + peer);
            auto conn = std::make_shared<detail::stream_connection<tcp::socket>>(
                std::move(sock), brk, options.session, peer, is_loopback(ep.address()),
                options.handshake_timeout, options.close_timeout);
            conn->start();
            prune();
            connections.push_back(conn);
        }
        (void)self;
    }
};

server::server(asio::io_context& io, broker::broker& b, server_options options)
    : impl_(std::make_shared<impl>(io, b, std::move(options))) {}

server::~server() {
    boost::system::error_code ec;
    impl_->stopped = true;
    impl_->acceptor.close(ec);
    impl_->timer.stop();
}

void server::start() {
    auto& a = impl_->acceptor;
    tcp::endpoint ep(asio::ip::make_address(impl_->options.bind), impl_->options.port);
    a.open(ep.protocol());
    a.set_option(tcp::acceptor::reuse_address(true));
    a.bind(ep);
    a.listen(asio::socket_base::max_listen_connections);
    spawn(impl_->io.get_executor(), impl_->accept_loop(impl_), "AMQP listener");
    impl_->timer.start();
    log(log_level::info,
        "listening for AMQP 0-9-1 on " + impl_->options.bind + ":" + std::to_string(port()));
}

std::uint16_t server::port() const {
    boost::system::error_code ec;
    return impl_->acceptor.local_endpoint(ec).port();
}

void server::stop() {
    impl_->stopped = true;
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    impl_->prune();
    for (auto& w : impl_->connections) {
        if (auto c = w.lock()) {
            c->shutdown(
                protocol::reply_code::connection_forced,
                "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'");
        }
    }
}

std::size_t server::connection_count() const {
    impl_->prune();
    return impl_->connections.size();
}

}  // namespace warren::server
