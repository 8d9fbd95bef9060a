#include "detail/wire.hpp"

#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace warren::protocol {

namespace {

// type(1) + channel(2) + size(4)
constexpr std::size_t header_size = 7;

bool known_type(std::uint8_t t) noexcept { return t == 1 || t == 2 || t == 3 || t == 8; }

}  // namespace

parse_result parse_frame(std::string_view in, std::uint32_t frame_max) noexcept {
    parse_result r;
    // Reject a bad type from its first octet, and an oversize frame from its header: neither
    // waits for (or buffers) the payload.
    if (in.empty()) return r;
    const auto type = static_cast<std::uint8_t>(in[0]);
    if (!known_type(type)) {
        r.ec = error::bad_frame_type;
        return r;
    }
    if (in.size() < header_size) return r;
    const std::uint32_t size = detail::load_u32(in.data() + 3);
    const std::uint64_t total = std::uint64_t{size} + frame_overhead;
    if (frame_max != 0 && total > frame_max) {
        r.ec = error::frame_too_large;
        return r;
    }
    if (in.size() < total) return r;
    if (static_cast<std::uint8_t>(in[header_size + size]) != frame_end) {
        r.ec = error::bad_frame_end;
        return r;
    }
    r.consumed = static_cast<std::size_t>(total);
    r.frame.type = static_cast<frame_type>(type);
    r.frame.channel = detail::load_u16(in.data() + 1);
    r.frame.payload = in.substr(header_size, size);
    return r;
}

std::optional<frame_header> peek_frame_header(std::string_view in) noexcept {
    if (in.size() < header_size) return std::nullopt;
    return frame_header{static_cast<std::uint8_t>(in[0]), detail::load_u16(in.data() + 1),
                        detail::load_u32(in.data() + 3)};
}

parse_result peek_frame(std::string_view in) noexcept {
    parse_result r;
    if (in.size() < header_size) return r;
    const std::uint32_t size = detail::load_u32(in.data() + 3);
    if (in.size() - header_size <= size) return r;
    r.consumed = header_size + std::size_t{size} + 1;
    r.frame.type = static_cast<frame_type>(static_cast<std::uint8_t>(in[0]));
    r.frame.channel = detail::load_u16(in.data() + 1);
    r.frame.payload = in.substr(header_size, size);
    return r;
}

std::optional<frame_fault> diagnose_frame(std::string_view in, std::uint32_t frame_max) noexcept {
    const auto h = peek_frame_header(in);
    if (!h) return std::nullopt;
    frame_fault f;
    f.header = *h;
    if (frame_max != 0 && std::uint64_t{h->size} + frame_overhead > frame_max) {
        f.code = error::frame_too_large;
        return f;
    }
    if (in.size() - header_size <= h->size) return std::nullopt;  // payload or end octet missing
    f.payload = in.substr(header_size, h->size);
    f.end_octet = static_cast<std::uint8_t>(in[header_size + h->size]);
    if (f.end_octet != frame_end) {
        f.code = error::bad_frame_end;
        return f;
    }
    if (known_type(h->type)) return std::nullopt;
    f.code = error::bad_frame_type;
    return f;
}

header_match match_protocol_header(std::string_view in) noexcept {
    if (in.size() < protocol_header.size()) return header_match::incomplete;
    return in.substr(0, protocol_header.size()) == protocol_header ? header_match::match
                                                                   : header_match::mismatch;
}

void frame_parser::feed(std::string_view bytes) {
    if (bytes.empty()) return;
    auto space = prepare(bytes.size());
    std::copy(bytes.begin(), bytes.end(), space.data());
    commit(bytes.size());
}

std::span<char> frame_parser::prepare(std::size_t n) {
    if (pos_ == end_) pos_ = end_ = 0;  // everything parsed: start over at the front, no copy
    if (cap_ - end_ < n) {
        const std::size_t live = end_ - pos_;
        if (cap_ - live >= n && live <= cap_ / 2) {
            // Enough room once the parsed frames are dropped, and the tail is small enough
            // that moving it costs less than the reads it makes room for.
            std::memmove(buf_.get(), buf_.get() + pos_, live);
        } else {
            // No floor beyond what is asked: a server starts idle connections at 1 KiB.
            const std::size_t cap = std::max({live + n, cap_ * 2});
            auto bigger = std::make_unique_for_overwrite<char[]>(cap);
            if (live != 0) std::memcpy(bigger.get(), buf_.get() + pos_, live);
            buf_ = std::move(bigger);
            cap_ = cap;
        }
        pos_ = 0;
        end_ = live;
    }
    return {buf_.get() + end_, cap_ - end_};
}

result<std::optional<frame_view>> frame_parser::next() {
    parse_result r = parse_frame(std::string_view(buf_.get() + pos_, end_ - pos_), frame_max_);
    // pos_ stays at the bad frame, so every later call reports the same error.
    if (r.ec) return r.ec;
    if (r.consumed == 0) return std::optional<frame_view>{};
    pos_ += r.consumed;
    return std::optional<frame_view>{r.frame};
}

namespace detail {

std::size_t begin_frame(std::string& out, frame_type type, std::uint16_t channel) {
    put_u8(out, static_cast<std::uint8_t>(type));
    put_u16(out, channel);
    const std::size_t size_at = out.size();
    put_u32(out, 0);
    return size_at;
}

void end_frame(std::string& out, std::size_t size_at) noexcept {
    patch_u32(out, size_at, static_cast<std::uint32_t>(out.size() - size_at - 4));
    out.push_back(static_cast<char>(frame_end));
}

}  // namespace detail

void append_frame_header(std::string& out, frame_type type, std::uint16_t channel,
                         std::uint32_t size) {
    detail::put_u8(out, static_cast<std::uint8_t>(type));
    detail::put_u16(out, channel);
    detail::put_u32(out, size);
}

void append_heartbeat(std::string& out) { append_frame(out, frame_type::heartbeat, 0, {}); }

void append_frame(std::string& out, frame_type type, std::uint16_t channel,
                  std::string_view payload) {
    detail::put_u8(out, static_cast<std::uint8_t>(type));
    detail::put_u16(out, channel);
    detail::put_longstr(out, payload);
    out.push_back(static_cast<char>(frame_end));
}

void append_content_header(std::string& out, std::uint16_t channel, const content_header& h) {
    const std::size_t size_at = detail::begin_frame(out, frame_type::header, channel);
    encode_content_header(h, out);
    detail::end_frame(out, size_at);
}

void append_content_header_raw(std::string& out, std::uint16_t channel, std::uint64_t body_size,
                               std::string_view encoded_properties) {
    const std::size_t size_at = detail::begin_frame(out, frame_type::header, channel);
    detail::put_u16(out, 60);  // basic, the only content class
    detail::put_u16(out, 0);   // weight
    detail::put_u64(out, body_size);
    out.append(encoded_properties);
    detail::end_frame(out, size_at);
}

void append_body_frames(std::string& out, std::uint16_t channel, std::string_view body,
                        std::uint32_t frame_max) {
    // A frame_max too small to carry a payload byte is a caller bug; still make progress.
    constexpr std::size_t max_payload = std::numeric_limits<std::uint32_t>::max();
    const std::size_t room = frame_max > frame_overhead ? frame_max - frame_overhead : 1;
    const std::size_t chunk = frame_max == 0 ? max_payload : std::min(room, max_payload);
    while (!body.empty()) {
        const std::size_t n = std::min(chunk, body.size());
        append_frame(out, frame_type::body, channel, body.substr(0, n));
        body.remove_prefix(n);
    }
}

}  // namespace warren::protocol
