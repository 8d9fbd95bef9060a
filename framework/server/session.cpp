// session: handshake, frame dispatch, connection-level errors, output and broker events.
#include "session_detail.hpp"

#include <warren/broker/broker.hpp>
#include <warren/common/log.hpp>
#include <warren/protocol/sasl.hpp>

#include <algorithm>

namespace warren::server {

using protocol::reply_code;

std::string erlang_binary(std::string_view bytes) {
    constexpr std::size_t limit = 64;
    auto shown = bytes.substr(0, limit);
    bool printable = !shown.empty();
    for (unsigned char c : shown)
        printable = printable && c >= 32 && c < 127 && c != '"' && c != '\\';
    std::string s = "<<";
    if (printable) {
        s.append("\"").append(shown).append("\"");
    } else {
        for (std::size_t i = 0; i < shown.size(); ++i) {
            if (i) s.push_back(',');
            s += std::to_string(static_cast<unsigned char>(shown[i]));
        }
    }
    // RabbitMQ's truncated form ends in "..." without the closing ">>".
    s.append(bytes.size() > limit ? "..." : ">>");
    return s;
}

namespace {

protocol::field_table server_properties() {
    protocol::field_table caps;
    // RabbitMQ 3.10's capabilities, in its order.
    for (const char* c : {"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                          "consumer_cancel_notify", "connection.blocked", "consumer_priorities",
                          "authentication_failure_close", "per_consumer_qos", "direct_reply_to"}) {
        caps.add(c, true);
    }
    protocol::field_table t;
    t.add("capabilities", std::move(caps));
    t.add("cluster_name", "warren");
    t.add("copyright", "Copyright (c) the Warren authors");
    t.add("information", "Warren: an AMQP 0-9-1 broker. Licensed under the MIT licence.");
    t.add("platform", "C++20 / Boost.Asio");
    t.add("product", "Warren");
    t.add("version", "0.1.0");
    return t;
}

bool get_flag(const protocol::field_table& caps, std::string_view name) {
    const auto* v = caps.find(name);
    const bool* b = v ? v->get_if<bool>() : nullptr;
    return b && *b;
}

}  // namespace

session::session(broker::broker& b, session_options options, std::string peer,
                 bool peer_is_loopback)
    : broker_(b), options_(options), peer_(std::move(peer)), peer_is_loopback_(peer_is_loopback) {
    parser_.set_frame_max(frame_limit());
}

session::~session() { teardown(); }
void session::feed(std::string_view bytes) {
    if (bytes.empty()) return;
    auto space = input_space(bytes.size());
    std::copy(bytes.begin(), bytes.end(), space.data());
    input_received(bytes.size());
}

std::span<char> session::input_space(std::size_t n) { return parser_.prepare(n); }

void session::input_received(std::size_t n) {
    parser_.commit(n);
    if (finished_ || state_ == state::done) {
        parser_.consume(parser_.buffered());  // after the close: read and dropped
        return;
    }
    if (state_ == state::header) {
        const auto m = protocol::match_protocol_header(parser_.unparsed());
        if (m == protocol::header_match::incomplete) return;
        if (m == protocol::header_match::mismatch) {
            // Tell the client which protocol we speak, then close (as RabbitMQ).
            out_.append(protocol::protocol_header);
            log(log_level::warning, "closing connection from " + peer_ + ": bad protocol header");
            finished_ = true;
            state_ = state::done;
            notify();
            return;
        }
        parser_.consume(protocol::protocol_header.size());
        send_start();
        state_ = state::start_ok;
    }
    in_feed_ = true;
    published_in_last_input_ = false;
    scan_publishes();
    handle_frames();
    in_feed_ = false;
    flush_confirms();
    notify();
}

void session::handle_frames() {
    while (!finished_ && state_ != state::done) {
        auto r = parser_.next();
        if (!r) {
            // Reported once the whole bad frame is in, as RabbitMQ does (until then, wait).
            if (auto fault = protocol::diagnose_frame(parser_.unparsed(), frame_limit()))
                framing_error(*fault);
            return;
        }
        if (!*r) return;
        const auto& f = **r;
        if (state_ == state::open) lookahead_.reached(f.payload.data());
        handle_frame(f);
        after_broker();
    }
}

std::uint32_t session::frame_limit() const noexcept {
    return (frame_max_ ? frame_max_ : options_.frame_max) + 8;
}

void session::scan_publishes() {
    lookahead_.clear();
    auto data = parser_.unparsed();
    if (!conn_ || state_ != state::open) return;
    lookahead_.start(conn_->host());
    for (;;) {
        const auto r = protocol::peek_frame(data);
        if (r.consumed == 0) break;
        if (r.frame.type == protocol::frame_type::method) {
            if (auto p = protocol::peek_publish(r.frame.payload)) {
                lookahead_.add(r.frame.payload.data(), p->exchange, p->routing_key);
            }
        }
        data.remove_prefix(r.consumed);
    }
}

void session::send_start() {
    protocol::connection_start m;
    m.version_major = 0;
    m.version_minor = 9;
    m.server_properties = server_properties();
    m.mechanisms = "AMQPLAIN PLAIN";
    m.locales = "en_US";
    send(0, m);
    notify();
}

void session::framing_error(const protocol::frame_fault& fault) {
    // RabbitMQ's texts: "FRAME_ERROR - type T, all octets = <<payload>>: reason".
    std::string text =
        "FRAME_ERROR - type " + std::to_string(fault.header.type) + ", all octets = ";
    using protocol::error;
    if (fault.code == error::frame_too_large) {
        text += "<<>>: {frame_too_large," + std::to_string(fault.header.size) + "," +
                std::to_string(frame_limit() - 2 * protocol::frame_overhead) + "}";
    } else if (fault.code == error::bad_frame_end) {
        text += erlang_binary(fault.payload) + ": {invalid_frame_end_marker," +
                std::to_string(fault.end_octet) + "}";
    } else {
        text += erlang_binary(fault.payload) + ": unknown_frame";
    }
    connection_error(reply_code::frame_error, text, 0, 0);
    // The byte stream cannot be trusted any more: do not wait for close-ok.
    finished_ = true;
    state_ = state::done;
}

void session::handle_frame(const protocol::frame_view& f) {
    if (f.type == protocol::frame_type::heartbeat) {
        if (!f.payload.empty()) {
            connection_error(reply_code::frame_error,
                             "FRAME_ERROR - type 8, all octets = " + erlang_binary(f.payload) +
                                 ": unknown_frame",
                             0, 0);
        } else if (f.channel != 0 && state_ == state::open) {
            connection_error(reply_code::unexpected_frame,
                             "UNEXPECTED_FRAME - type 8, all octets = <<>>", 0, 0);
        }
        return;
    }
    if (state_ == state::closing) {
        // Only the close handshake matters now.
        if (f.type != protocol::frame_type::method || f.channel != 0) return;
        auto m = protocol::decode_method(f.payload);
        if (!m) return;
        if (std::holds_alternative<protocol::connection_close>(*m)) {
            send(0, protocol::connection_close_ok{});
        }
        if (std::holds_alternative<protocol::connection_close>(*m) ||
            std::holds_alternative<protocol::connection_close_ok>(*m)) {
            finished_ = true;
            state_ = state::done;
        }
        return;
    }
    if (state_ == state::open_wait && f.channel != 0) {
        connection_error(reply_code::unexpected_frame,
                         "UNEXPECTED_FRAME - type " + std::to_string(static_cast<int>(f.type)) +
                             ", all octets = " + erlang_binary(f.payload),
                         0, 0);
        return;
    }
    if (f.channel == 0 || state_ != state::open) {
        if (f.type != protocol::frame_type::method) {
            connection_error(
                reply_code::unexpected_frame,
                "UNEXPECTED_FRAME - expected method frame, got non method frame instead", 0, 0);
            return;
        }
        handle_connection_method(f);
        return;
    }
    handle_channel_frame(f);
}

void session::handle_connection_method(const protocol::frame_view& f) {
    auto decoded = protocol::decode_method(f.payload);
    if (!decoded) {
        protocol_error(decoded.error(), &f);
        return;
    }
    auto& m = *decoded;
    auto cid = protocol::class_id_of(m);
    auto mid = protocol::method_id_of(m);
    if (state_ == state::open) {
        if (std::holds_alternative<protocol::connection_close>(m)) {
            send(0, protocol::connection_close_ok{});
            log(log_level::info, "closing AMQP connection " + peer_ + " (client request)");
            teardown();
            finished_ = true;
            client_closed_ = true;
            state_ = state::done;
            return;
        }
        if (std::holds_alternative<protocol::connection_update_secret>(m)) {
            send(0, protocol::connection_update_secret_ok{});
            return;
        }
        connection_error(reply_code::channel_error,
                         "CHANNEL_ERROR - unexpected method in connection state running", cid, mid);
        return;
    }
    if (f.channel != 0 || cid != 10) {
        // Before connection.open-ok only connection.* on channel 0 is allowed.
        connection_error(reply_code::command_invalid,
                         "COMMAND_INVALID - unexpected method " +
                             std::string(protocol::name_of(m)) + " during connection handshake",
                         cid, mid);
        return;
    }
    switch (state_) {
        case state::start_ok:
            if (auto* p = std::get_if<protocol::connection_start_ok>(&m))
                return handle_start_ok(*p);
            break;
        case state::tune_ok:
            if (auto* p = std::get_if<protocol::connection_tune_ok>(&m)) return handle_tune_ok(*p);
            break;
        case state::open_wait:
            if (auto* p = std::get_if<protocol::connection_open>(&m)) return handle_open(*p);
            break;
        default:
            break;
    }
    connection_error(reply_code::command_invalid,
                     "COMMAND_INVALID - unexpected method " + std::string(protocol::name_of(m)) +
                         " during connection handshake",
                     cid, mid);
}

void session::handle_start_ok(const protocol::connection_start_ok& m) {
    const auto* caps_v = m.client_properties.find("capabilities");
    if (const auto* caps = caps_v ? caps_v->get_if<protocol::field_table>() : nullptr) {
        cancel_notify_ = get_flag(*caps, "consumer_cancel_notify");
        auth_failure_close_ = get_flag(*caps, "authentication_failure_close");
    }
    auto credentials = protocol::decode_sasl_response(m.mechanism, m.response);
    if (!credentials) {
        connection_error(reply_code::command_invalid,
                         "COMMAND_INVALID - unknown authentication mechanism '" + m.mechanism + "'",
                         10, 11);
        return;
    }
    const auto& [user, password] = *credentials;
    mechanism_ = m.mechanism;
    if (!broker_.authenticate(user, password, peer_is_loopback_)) {
        log(log_level::warning, "login refused for user '" + user + "' from " + peer_);
        if (auth_failure_close_) {
            connection_error(reply_code::access_refused,
                             "ACCESS_REFUSED - Login was refused using authentication mechanism " +
                                 m.mechanism + ". For details see the broker logfile.",
                             0, 0);
        } else {
            finished_ = true;
            state_ = state::done;
        }
        return;
    }
    user_ = user;
    protocol::connection_tune t;
    t.channel_max = options_.channel_max;
    t.frame_max = options_.frame_max;
    t.heartbeat = options_.heartbeat;
    send(0, t);
    state_ = state::tune_ok;
}

void session::handle_tune_ok(const protocol::connection_tune_ok& m) {
    if (m.frame_max != 0 && m.frame_max < protocol::frame_min_size) {
        connection_error(reply_code::not_allowed,
                         "NOT_ALLOWED - frame_max=" + std::to_string(m.frame_max) + " < " +
                             std::to_string(protocol::frame_min_size) + " min size",
                         10, 31);
        return;
    }
    if (m.frame_max > options_.frame_max) {
        connection_error(reply_code::not_allowed,
                         "NOT_ALLOWED - frame_max=" + std::to_string(m.frame_max) + " > " +
                             std::to_string(options_.frame_max) + " max size",
                         10, 31);
        return;
    }
    frame_max_ = m.frame_max == 0 ? options_.frame_max : m.frame_max;
    parser_.set_frame_max(frame_limit());
    channel_max_ = (m.channel_max == 0 || m.channel_max > options_.channel_max)
                       ? options_.channel_max
                       : m.channel_max;
    heartbeat_ = m.heartbeat;
    state_ = state::open_wait;
}

void session::handle_open(const protocol::connection_open& m) {
    auto* vh = broker_.find_vhost(m.virtual_host);
    if (!vh) {
        connection_error(reply_code::not_allowed,
                         "NOT_ALLOWED - vhost " + m.virtual_host + " not found", 10, 40);
        return;
    }
    broker::client_sink& sink = *this;
    conn_ = std::make_unique<broker::connection>(*vh, sink, user_, peer_);
    send(0, protocol::connection_open_ok{});
    state_ = state::open;
    log(log_level::info, "connection " + peer_ + ": user '" + user_ +
                             "' authenticated and granted access to vhost '" + m.virtual_host +
                             "'");
}

void session::connection_error(reply_code code, std::string_view text, std::uint16_t class_id,
                               std::uint16_t method_id) {
    if (state_ == state::closing || state_ == state::done) return;
    log(log_level::warning, "closing connection " + peer_ + ": " + std::string(text));
    flush_confirms();
    protocol::connection_close c;
    c.reply_code = static_cast<std::uint16_t>(code);
    c.reply_text = std::string(text.substr(0, 255));
    c.class_id = class_id;
    c.method_id = method_id;
    send(0, c);
    teardown();
    state_ = state::closing;
    notify();
}

void session::close(reply_code code, std::string_view text) {
    if (state_ == state::open) {
        connection_error(code, text, 0, 0);
    } else if (state_ != state::closing) {
        teardown();
        finished_ = true;
        state_ = state::done;
    }
}

void session::protocol_error(const boost::system::error_code& ec, const protocol::frame_view* f) {
    const bool method = f && f->type == protocol::frame_type::method;
    auto m = method ? protocol::peek_method(f->payload)
                    : protocol::result<protocol::method_view>(protocol::error::truncated);
    if (method && !m) {
        connection_error(
            reply_code::frame_error,
            "FRAME_ERROR - type 1, all octets = " + erlang_binary(f->payload) + ": unknown_frame",
            0, 0);
        return;
    }
    if (ec == protocol::error::unknown_method) {
        const auto cid = m ? m->class_id : 0, mid = m ? m->method_id : 0;
        connection_error(reply_code::not_implemented,
                         "NOT_IMPLEMENTED - unknown method class " + std::to_string(cid) +
                             " method " + std::to_string(mid),
                         cid, mid);
    } else if (method) {
        // RabbitMQ: "FRAME_ERROR - cannot decode <<arguments>>" with the method's ids.
        connection_error(reply_code::frame_error,
                         "FRAME_ERROR - cannot decode " + erlang_binary(m->arguments), m->class_id,
                         m->method_id);
    } else {
        connection_error(reply_code::frame_error,
                         "FRAME_ERROR - cannot decode content header " +
                             erlang_binary(f ? f->payload : std::string_view{}),
                         0, 0);
    }
}

void session::teardown() {
    // Destroying the broker connection requeues unacked messages and deletes exclusive queues.
    auto conn = std::move(conn_);
    auto old_state = state_;
    state_ = state::done;  // no deliveries into a connection that is going away
    conn.reset();
    channels_.clear();
    state_ = old_state;
    after_broker();  // what the requeues raised, for other connections
}

void session::transport_closed() {
    if (conn_) log(log_level::info, "connection " + peer_ + " closed by the peer or the network");
    teardown();
    finished_ = true;
    state_ = state::done;
}

}  // namespace warren::server
