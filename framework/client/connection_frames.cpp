// The connection's reader side: frame dispatch and the connection-class methods (handshake,
// close, blocked/unblocked).
#include "channel_impl.hpp"
#include "connection_impl.hpp"

#include <boost/asio/error.hpp>

namespace warren::detail {

namespace {
using protocol::reply_code;

template <class T>
T negotiate(T client, T server) {
    // 0 means "no limit" on either side (RabbitMQ's clients use the same rule).
    return (client == 0 || server == 0) ? std::max(client, server) : std::min(client, server);
}

protocol::field_table client_properties() {
    protocol::field_table caps;
    for (const char* c : {"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                          "consumer_cancel_notify", "connection.blocked",
                          "authentication_failure_close", "per_consumer_qos"}) {
        caps.add(c, true);
    }
    protocol::field_table t;
    t.add("product", "Warren");
    t.add("version", "0.1.0");
    t.add("platform", "C++20/Boost.Asio");
    t.add("capabilities", std::move(caps));
    return t;
}
}  // namespace

bool connection_impl::handle_frame(const protocol::frame_view& f) {
    if (f.type == protocol::frame_type::heartbeat) return true;
    if (f.channel == 0) {
        if (f.type != protocol::frame_type::method) {
            fail_protocol(reply_code::unexpected_frame, "UNEXPECTED_FRAME - content on channel 0");
            return false;
        }
        auto m = protocol::decode_method(f.payload);
        if (!m) {
            fail_protocol(reply_code::syntax_error, "SYNTAX_ERROR - " + m.error().message());
            return false;
        }
        handle_connection_method(*m);
        return state_ != state::closed;
    }
    auto it = channels_.find(f.channel);
    if (it == channels_.end()) return true;  // a channel we already forgot: drop
    if (it->second.orphaned) {
        handle_orphan_frame(f.channel, f);
        return true;
    }
    auto ch = it->second.channel.lock();
    if (!ch) return true;
    if (!ch->on_frame(f)) {
        fail_protocol(reply_code::unexpected_frame,
                      "UNEXPECTED_FRAME - bad frame on channel " + std::to_string(f.channel));
        return false;
    }
    return state_ != state::closed;
}

void connection_impl::handle_connection_method(protocol::method& m) {
    if (auto* start = std::get_if<protocol::connection_start>(&m)) {
        handle_start(*start);
    } else if (auto* tune = std::get_if<protocol::connection_tune>(&m)) {
        handle_tune(*tune);
    } else if (std::holds_alternative<protocol::connection_open_ok>(m)) {
        if (state_ == state::handshake) {
            state_ = state::open;
            state_changed_.notify();
            tick_.cancel();  // re-arm the tick timer with the heartbeat period
        }
    } else if (auto* close = std::get_if<protocol::connection_close>(&m)) {
        send(0, protocol::connection_close_ok{});
        finish(std::make_exception_ptr(
            connection_error(static_cast<reply_code>(close->reply_code), close->reply_text)));
    } else if (std::holds_alternative<protocol::connection_close_ok>(m)) {
        finish(std::make_exception_ptr(
            connection_error(reply_code::success, "connection closed by the client")));
    } else if (std::holds_alternative<protocol::connection_blocked>(m)) {
        blocked_ = true;
    } else if (std::holds_alternative<protocol::connection_unblocked>(m)) {
        blocked_ = false;
        publishable_.notify();
    } else {
        fail_protocol(reply_code::command_invalid,
                      "COMMAND_INVALID - unexpected " + std::string(protocol::name_of(m)));
    }
}

void connection_impl::handle_start(const protocol::connection_start& m) {
    if (state_ != state::handshake || m.version_major != 0 || m.version_minor != 9) {
        fail_protocol(reply_code::command_invalid, "COMMAND_INVALID - unexpected connection.start");
        return;
    }
    bool plain = false;
    std::string_view mechs = m.mechanisms;
    while (!mechs.empty()) {
        auto sp = mechs.find(' ');
        if (mechs.substr(0, sp) == "PLAIN") plain = true;
        mechs = sp == std::string_view::npos ? std::string_view{} : mechs.substr(sp + 1);
    }
    if (!plain) {
        fail_protocol(reply_code::not_implemented,
                      "NOT_IMPLEMENTED - the server does not offer SASL PLAIN: " + m.mechanisms);
        return;
    }
    server_properties_ = m.server_properties;
    std::string response;
    response.push_back('\0');
    response += params_.user;
    response.push_back('\0');
    response += params_.password;
    send(0, protocol::connection_start_ok{.client_properties = client_properties(),
                                          .mechanism = "PLAIN",
                                          .response = std::move(response),
                                          .locale = "en_US"});
}

void connection_impl::handle_tune(const protocol::connection_tune& m) {
    channel_max_ = negotiate(params_.channel_max, m.channel_max);
    frame_max_ = negotiate(params_.frame_max, m.frame_max);
    if (frame_max_ != 0 && frame_max_ < protocol::frame_min_size)
        frame_max_ = protocol::frame_min_size;
    if (!params_.heartbeat) {
        heartbeat_ = m.heartbeat;
    } else {
        heartbeat_ = *params_.heartbeat == 0 ? 0 : negotiate(*params_.heartbeat, m.heartbeat);
    }
    parser_.set_frame_max(frame_max_);
    send(0, protocol::connection_tune_ok{
                .channel_max = channel_max_, .frame_max = frame_max_, .heartbeat = heartbeat_});
    send(0, protocol::connection_open{.virtual_host = params_.vhost});
}

void connection_impl::handle_orphan_frame(std::uint16_t id, const protocol::frame_view& f) {
    if (f.type != protocol::frame_type::method) return;
    auto m = protocol::decode_method(f.payload);
    if (!m) return;
    if (std::holds_alternative<protocol::channel_close_ok>(*m)) {
        release_channel(id);
    } else if (std::holds_alternative<protocol::channel_close>(*m)) {
        send(id, protocol::channel_close_ok{});
        release_channel(id);
    }
}

}  // namespace warren::detail
