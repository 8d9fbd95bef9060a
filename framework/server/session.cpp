// session: handshake, frame dispatch, connection-level errors, output and broker events.
#include "session_detail.hpp"

#include <warren/broker/broker.hpp>
#include <warren/common/log.hpp>

#include <algorithm>

namespace warren::server {

using protocol::reply_code;

std::string erlang_binary(std::string_view bytes) {
    constexpr std::size_t limit = 64;
    auto shown = bytes.substr(0, limit);
    bool printable = !shown.empty();
    for (unsigned char c : shown) printable = printable && c >= 32 && c < 127 && c != '"' && c != '\\';
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

// The size field of a frame header (octets 3-6, big-endian).
std::uint32_t frame_size_field(const char* header) noexcept {
    std::uint32_t size = 0;
    for (int i = 3; i < 7; ++i) size = (size << 8) | static_cast<unsigned char>(header[i]);
    return size;
}

bool get_flag(const protocol::field_table& caps, std::string_view name) {
    const auto* v = caps.find(name);
    const bool* b = v ? v->get_if<bool>() : nullptr;
    return b && *b;
}

}  // namespace

session::session(broker::broker& b, session_options options, std::string peer, bool peer_is_loopback)
    : broker_(b), options_(options), peer_(std::move(peer)), peer_is_loopback_(peer_is_loopback) {}

session::~session() { teardown(); }

void session::notify() {
    if (notified_ || out_.empty()) return;
    notified_ = true;
    if (on_output_) on_output_();
}

std::size_t session::output::size() const noexcept {
    std::size_t n = bytes.size();
    for (const auto& s : splices) n += s.bytes.size();
    return n;
}

bool session::take_output(output& into) {
    into.clear();
    notified_ = false;
    if (out_.empty()) return false;
    into.bytes.swap(out_);
    into.splices.swap(splices_);
    in_flight_ += into.bytes.size() + spliced_bytes_;
    spliced_bytes_ = 0;
    return true;
}

bool session::take_output(std::string& into) {
    output o;
    into.clear();
    if (!take_output(o)) return false;
    std::size_t pos = 0;
    for (const auto& s : o.splices) {
        into.append(o.bytes, pos, s.at - pos);
        into.append(s.bytes);
        pos = s.at;
    }
    into.append(o.bytes, pos);
    return true;
}

void session::append_body(std::uint16_t channel, const broker::message& m, const broker::message_ptr* keep) {
    if (keep == nullptr || m.body.size() < splice_threshold) {
        protocol::append_body_frames(out_, channel, m.body, frame_max_);
        return;
    }
    // The same frames as append_body_frames, with each payload referenced instead of copied.
    std::string_view body = m.body;
    const std::size_t chunk = frame_max_ > protocol::frame_overhead ? frame_max_ - protocol::frame_overhead
                                                                    : body.size();
    while (!body.empty()) {
        const auto n = static_cast<std::uint32_t>(std::min(chunk, body.size()));
        const char header[7] = {static_cast<char>(protocol::frame_type::body),
                                static_cast<char>(channel >> 8), static_cast<char>(channel & 0xff),
                                static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff),
                                static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
        out_.append(header, sizeof header);
        splices_.push_back(splice{out_.size(), *keep, body.substr(0, n)});
        spliced_bytes_ += n;
        out_.push_back(static_cast<char>(protocol::frame_end));
        body.remove_prefix(n);
    }
}

void session::output_written(std::size_t n) {
    in_flight_ -= std::min(n, in_flight_);
    if (blocked_ && conn_ && writable()) {
        blocked_ = false;
        conn_->resume();
        notify();
    }
}

bool session::writable() const noexcept {
    if (state_ != state::open) return false;
    if (out_.size() + spliced_bytes_ + in_flight_ < options_.output_high_water) return true;
    blocked_ = true;
    return false;
}

void session::send_heartbeat() {
    if (state_ == state::done) return;
    protocol::append_heartbeat(out_);
    notify();
}

void session::feed(std::string_view bytes) {
    if (finished_ || state_ == state::done) return;
    if (state_ == state::header) {
        in_.append(bytes.data(), bytes.size());
        if (in_.size() < protocol::protocol_header.size()) return;
        if (std::string_view(in_).substr(0, 8) != protocol::protocol_header) {
            // Tell the client which protocol we speak, then close (as RabbitMQ).
            out_.append(protocol::protocol_header);
            log(log_level::warning, "closing connection from " + peer_ + ": bad protocol header");
            finished_ = true;
            state_ = state::done;
            notify();
            return;
        }
        in_pos_ = 8;
        send_start();
        state_ = state::start_ok;
        bytes = {};
    }
    in_feed_ = true;
    // Bytes held from an earlier read start a frame: complete it with just the bytes it still
    // needs, so that the rest of this read is parsed in place (never copied).
    while (in_pos_ < in_.size() && !finished_ && state_ != state::done) {
        const std::size_t held = in_.size() - in_pos_;
        std::size_t want = 7;  // type, channel, size
        if (held >= 7) want = std::size_t{frame_size_field(in_.data() + in_pos_)} + 8;
        if (held < want && !bytes.empty() && want <= std::size_t{frame_limit()}) {
            const auto take = std::min(want - held, bytes.size());
            in_.append(bytes.data(), take);
            bytes.remove_prefix(take);
            if (held < 7 && in_.size() - in_pos_ >= 7) continue;  // header complete: size known
        }
        in_pos_ += parse_frames(std::string_view(in_).substr(in_pos_));
        if (in_pos_ < in_.size() && bytes.empty()) break;  // still partial: wait for more
    }
    if (in_pos_ >= in_.size()) {
        in_.clear();
        in_pos_ = 0;
    }
    if (!bytes.empty() && !finished_ && state_ != state::done) {
        const auto used = parse_frames(bytes);
        if (used < bytes.size() && !finished_ && state_ != state::done) {
            in_.assign(bytes.substr(used));
            in_pos_ = 0;
        }
    }
    in_feed_ = false;
    flush_confirms();
    notify();
}

std::uint32_t session::frame_limit() const noexcept { return (frame_max_ ? frame_max_ : options_.frame_max) + 8; }

void session::scan_publishes(std::string_view data) {
    lookahead_.clear();
    if (!conn_ || state_ != state::open) return;
    lookahead_.start(conn_->host());
    for (;;) {
        const auto r = protocol::parse_frame(data, frame_limit());
        if (r.ec || r.consumed == 0) break;
        if (r.frame.type == protocol::frame_type::method) {
            if (auto p = protocol::peek_publish(r.frame.payload)) {
                lookahead_.add(r.frame.payload.data(), p->exchange, p->routing_key);
            }
        }
        data.remove_prefix(r.consumed);
    }
}

std::size_t session::parse_frames(std::string_view data) {
    scan_publishes(data);
    std::size_t pos = 0;
    while (!finished_ && state_ != state::done) {
        auto rest = data.substr(pos);
        auto r = protocol::parse_frame(rest, frame_limit());
        if (r.ec) {
            framing_error(r.ec, rest);
            break;
        }
        if (r.consumed == 0) break;
        pos += r.consumed;
        if (state_ == state::open) lookahead_.reached(r.frame.payload.data());
        handle_frame(r.frame);
    }
    return pos;
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

void session::framing_error(const boost::system::error_code& ec, std::string_view rest) {
    // RabbitMQ's texts: "FRAME_ERROR - type T, all octets = <<payload>>: reason".
    auto type = static_cast<unsigned char>(rest[0]);
    std::uint32_t size = 0;
    for (int i = 3; i < 7; ++i) size = (size << 8) | static_cast<unsigned char>(rest[static_cast<std::size_t>(i)]);
    auto payload = rest.substr(7, std::min<std::size_t>(size, rest.size() - 7));
    std::string text = "FRAME_ERROR - type " + std::to_string(type) + ", all octets = ";
    using protocol::error;
    if (ec == error::frame_too_large) {
        std::uint32_t max = frame_max_ ? frame_max_ : options_.frame_max;
        text += "<<>>: {frame_too_large," + std::to_string(size) + "," + std::to_string(max - 8) + "}";
    } else if (ec == error::bad_frame_end) {
        text += erlang_binary(payload) + ": {invalid_frame_end_marker," +
                std::to_string(static_cast<unsigned char>(rest[7 + size])) + "}";
    } else {
        text += erlang_binary(payload) + ": unknown_frame";
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
            connection_error(reply_code::unexpected_frame, "UNEXPECTED_FRAME - type 8, all octets = <<>>", 0, 0);
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
            connection_error(reply_code::unexpected_frame,
                             "UNEXPECTED_FRAME - expected method frame, got non method frame instead",
                             0, 0);
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
                         "COMMAND_INVALID - unexpected method " + std::string(protocol::name_of(m)) +
                             " during connection handshake",
                         cid, mid);
        return;
    }
    switch (state_) {
        case state::start_ok:
            if (auto* p = std::get_if<protocol::connection_start_ok>(&m)) return handle_start_ok(*p);
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
    std::string user, password;
    if (m.mechanism == "PLAIN") {
        // [authzid] NUL authcid NUL passwd
        auto first = m.response.find('\0');
        auto second = first == std::string::npos ? first : m.response.find('\0', first + 1);
        if (second != std::string::npos) {
            user = m.response.substr(first + 1, second - first - 1);
            password = m.response.substr(second + 1);
        }
    } else if (m.mechanism == "AMQPLAIN") {
        // A field table without its length prefix.
        std::string framed(4, '\0');
        auto n = static_cast<std::uint32_t>(m.response.size());
        for (int i = 0; i < 4; ++i) framed[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
        framed += m.response;
        std::string_view in(framed);
        if (auto t = protocol::decode_table(in)) {
            if (const auto* s = t->find("LOGIN"); s && s->as_string()) user = *s->as_string();
            if (const auto* s = t->find("PASSWORD"); s && s->as_string()) password = *s->as_string();
        }
    } else {
        connection_error(reply_code::command_invalid,
                         "COMMAND_INVALID - unknown authentication mechanism '" + m.mechanism + "'",
                         10, 11);
        return;
    }
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
    channel_max_ = (m.channel_max == 0 || m.channel_max > options_.channel_max) ? options_.channel_max
                                                                                 : m.channel_max;
    heartbeat_ = m.heartbeat;
    state_ = state::open_wait;
}

void session::handle_open(const protocol::connection_open& m) {
    auto* vh = broker_.find_vhost(m.virtual_host);
    if (!vh) {
        connection_error(reply_code::not_allowed, "NOT_ALLOWED - vhost " + m.virtual_host + " not found",
                         10, 40);
        return;
    }
    broker::client_sink& sink = *this;
    conn_ = std::make_unique<broker::connection>(*vh, sink, user_, peer_);
    send(0, protocol::connection_open_ok{});
    state_ = state::open;
    log(log_level::info, "connection " + peer_ + ": user '" + user_ +
                             "' authenticated and granted access to vhost '" + m.virtual_host + "'");
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
    std::uint16_t cid = 0, mid = 0;
    if (f && f->type == protocol::frame_type::method) {
        if (auto ids = protocol::peek_method_id(f->payload)) std::tie(cid, mid) = *ids;
    }
    using protocol::error;
    if (f && f->type == protocol::frame_type::method && f->payload.size() < 4) {
        connection_error(reply_code::frame_error,
                         "FRAME_ERROR - type 1, all octets = " + erlang_binary(f->payload) +
                             ": unknown_frame",
                         0, 0);
        return;
    }
    if (ec == error::unknown_method) {
        connection_error(reply_code::not_implemented,
                         "NOT_IMPLEMENTED - unknown method class " + std::to_string(cid) + " method " +
                             std::to_string(mid),
                         cid, mid);
    } else if (f && f->type == protocol::frame_type::method) {
        // RabbitMQ: "FRAME_ERROR - cannot decode <<arguments>>" with the method's ids.
        connection_error(reply_code::frame_error,
                         "FRAME_ERROR - cannot decode " + erlang_binary(f->payload.substr(4)), cid, mid);
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
}

void session::transport_closed() {
    if (conn_) log(log_level::info, "connection " + peer_ + " closed by the peer or the network");
    teardown();
    finished_ = true;
    state_ = state::done;
}

void session::flush_confirms() {
    for (auto id : confirm_dirty_) {
        if (auto* slot = slot_for(id)) flush_confirms(*slot);
    }
    confirm_dirty_.clear();
}

void session::flush_confirms(channel_slot& slot) {
    if (slot.confirm_upto <= slot.confirm_sent) return;
    protocol::basic_ack a;
    a.delivery_tag = slot.confirm_upto;
    a.multiple = slot.confirm_upto - slot.confirm_sent > 1;
    send(slot.id, a);
    slot.confirm_sent = slot.confirm_upto;
}

session::channel_slot* session::slot_for(std::uint16_t id) {
    return id < channels_.size() ? channels_[id].get() : nullptr;
}

// ---- broker events ----

void session::on_deliver_shared(broker::channel& ch, const broker::consumer& c, std::uint64_t tag,
                                bool redelivered, const broker::message_ptr& mp) {
    const auto& m = *mp;
    const bool splice_body = m.body.size() >= splice_threshold;
    out_.reserve(out_.size() + 64 + c.tag.size() + m.exchange.size() + m.routing_key.size() +
                 m.encoded_properties.size() + (splice_body ? 16 : m.body.size()));
    protocol::append_basic_deliver(out_, ch.id(), c.tag, tag, redelivered, m.exchange, m.routing_key);
    protocol::append_content_header_raw(out_, ch.id(), m.body.size(), m.encoded_properties);
    append_body(ch.id(), m, &mp);
    notify();
}

void session::on_consumer_cancelled(broker::channel& ch, const std::string& tag) {
    if (!cancel_notify_) return;
    protocol::basic_cancel c;
    c.consumer_tag = tag;
    c.nowait = true;
    send(ch.id(), c);
    notify();
}

void session::on_return(broker::channel& ch, reply_code code, std::string_view text,
                        const broker::message& m) {
    protocol::basic_return r;
    r.reply_code = static_cast<std::uint16_t>(code);
    r.reply_text = std::string(text);
    r.exchange = m.exchange;
    r.routing_key = m.routing_key;
    send(ch.id(), r);
    protocol::append_content_header_raw(out_, ch.id(), m.body.size(), m.encoded_properties);
    protocol::append_body_frames(out_, ch.id(), m.body, frame_max_);
    notify();
}

void session::on_channel_error(broker::channel& ch, reply_code code, std::string_view text) {
    auto* slot = slot_for(ch.id());
    if (!slot || slot->ch != &ch) return;
    channel_error(*slot, code, text, 0, 0);  // closes (destroys) the broker channel
}

void session::on_confirm(broker::channel& ch, std::uint64_t tag, bool multiple, bool ack) {
    auto* slot = slot_for(ch.id());
    if (!slot) return;
    if (ack) {
        if (slot->confirm_upto <= slot->confirm_sent) confirm_dirty_.push_back(slot->id);
        slot->confirm_upto = std::max(slot->confirm_upto, tag);
        if (!in_feed_) {
            // A store callback, outside any input batch: send now.
            flush_confirms();
            notify();
        }
        return;
    }
    flush_confirms(*slot);
    protocol::basic_nack n;
    n.delivery_tag = tag;
    n.multiple = multiple;
    n.requeue = false;
    send(slot->id, n);
    slot->confirm_sent = std::max(slot->confirm_sent, tag);
    slot->confirm_upto = std::max(slot->confirm_upto, tag);
    notify();
}

}  // namespace warren::server
