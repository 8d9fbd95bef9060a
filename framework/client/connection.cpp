#include "channel_impl.hpp"
#include "connection_impl.hpp"

#include <warren/client/detail/embedded_directory.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <stdexcept>

namespace warren {

namespace asio = boost::asio;
namespace p = protocol;
using detail::channel_impl;
using detail::connection_impl;

namespace {

const std::shared_ptr<connection_impl>& checked(const std::shared_ptr<connection_impl>& c) {
    if (!c) throw std::logic_error("warren::connection: use of a moved-from connection");
    return c;
}

asio::awaitable<channel> do_open_channel(std::shared_ptr<connection_impl> conn, channel_options o) {
    conn->check_open();
    auto ch = std::make_shared<channel_impl>(conn, o);
    ch->set_id(conn->reserve_channel(ch));
    auto slot = ch->start_call(p::channel_open{}, detail::key_of<p::channel_open_ok>(), 0, true);
    co_await channel_impl::await_reply(ch, slot);
    if (o.confirms) {
        auto sel = ch->start_call(p::confirm_select{}, detail::key_of<p::confirm_select_ok>());
        ch->enter_confirm_mode();
        co_await channel_impl::await_reply(ch, sel);
    }
    co_return channel_impl::make_channel(std::move(ch));
}

asio::awaitable<connection> connect_tcp(asio::any_io_executor ex, uri params) {
    namespace ip = asio::ip;
    auto strand = asio::make_strand(ex);
    ip::tcp::resolver resolver(strand);
    auto [rec, endpoints] = co_await resolver.async_resolve(
        params.host, std::to_string(params.port), detail::use_nothrow);
    if (rec) throw connection_error(rec, "cannot resolve " + params.host + ": " + rec.message());
    ip::tcp::socket socket(strand);
    auto [cec, ep] = co_await asio::async_connect(socket, endpoints, detail::use_nothrow);
    if (cec)
        throw connection_error(cec,
                               "cannot connect to " + to_string(params) + ": " + cec.message());
    socket.set_option(ip::tcp::no_delay(true));
    auto t = std::make_unique<detail::stream_transport<ip::tcp::socket>>(std::move(socket));
    co_return co_await detail::open_connection(strand, std::move(t), std::move(params));
}

}  // namespace

namespace detail {
asio::awaitable<connection> open_connection(asio::any_io_executor ex, std::unique_ptr<transport> t,
                                            uri params) {
    auto impl = std::make_shared<connection_impl>(std::move(ex), std::move(t), std::move(params));
    co_await connection_impl::open(impl);
    co_return connection(std::move(impl));
}
}  // namespace detail

connection::connection(std::shared_ptr<detail::connection_impl> impl) noexcept
    : impl_(std::move(impl)) {}
connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&& other) noexcept {
    if (this != &other) {
        if (impl_) impl_->close_in_background();
        impl_ = std::move(other.impl_);
    }
    return *this;
}
connection::~connection() {
    if (impl_) impl_->close_in_background();
}

asio::awaitable<channel> connection::open_channel(channel_options options) {
    return do_open_channel(checked(impl_), options);
}
asio::awaitable<void> connection::close() { return connection_impl::close(checked(impl_)); }
bool connection::is_open() const noexcept { return impl_ && impl_->is_open(); }
bool connection::blocked() const noexcept { return impl_ && impl_->blocked(); }
asio::any_io_executor connection::get_executor() const { return checked(impl_)->executor(); }
std::uint16_t connection::channel_max() const noexcept { return impl_ ? impl_->channel_max() : 0; }
std::uint32_t connection::frame_max() const noexcept { return impl_ ? impl_->frame_max() : 0; }
std::uint16_t connection::heartbeat() const noexcept { return impl_ ? impl_->heartbeat() : 0; }
const field_table& connection::server_properties() const noexcept {
    static const field_table empty;
    return impl_ ? impl_->server_properties() : empty;
}

asio::awaitable<connection> connect(asio::io_context& io, uri params) {
    if (params.scheme == uri_scheme::embedded) {
        auto connector = detail::find_embedded(io, params.host);
        if (!connector) {
            throw connection_error(
                asio::error::not_found,
                "no embedded broker named '" + params.host +
                    "' in this io_context: construct a warren::embedded_broker on it first "
                    "(<warren/embedded.hpp>)");
        }
        return connector(std::move(params));
    }
    return connect_tcp(io.get_executor(), std::move(params));
}
asio::awaitable<connection> connect(asio::io_context& io, std::string uri_text) {
    return connect(io, parse_uri(uri_text));
}

}  // namespace warren
