#include "detail/wire.hpp"

#include <warren/protocol/properties.hpp>

namespace warren::protocol {

namespace {

// Flag bit 0 says "another flags word follows" (never used by basic) and bit 1 is reserved.
constexpr std::uint16_t invalid_flag_bits = 0x0003;

void put(std::string& out, const std::string& v) { detail::put_shortstr(out, v); }
void put(std::string& out, const field_table& v) { encode_table(v, out); }
void put(std::string& out, std::uint8_t v) { detail::put_u8(out, v); }
void put(std::string& out, std::uint64_t v) { detail::put_u64(out, v); }

void get(detail::reader& r, std::string& v) { r.shortstr(v); }
void get(detail::reader& r, field_table& v) { r.table(v); }
void get(detail::reader& r, std::uint8_t& v) { r.u8(v); }
void get(detail::reader& r, std::uint64_t& v) { r.u64(v); }

// Calls f(flag_bit, member) for the 14 properties in wire order (flag 15 first).
template <class P, class F>
void for_each_property(P& p, F&& f) {
    f(15, p.content_type);
    f(14, p.content_encoding);
    f(13, p.headers);
    f(12, p.delivery_mode);
    f(11, p.priority);
    f(10, p.correlation_id);
    f(9, p.reply_to);
    f(8, p.expiration);
    f(7, p.message_id);
    f(6, p.timestamp);
    f(5, p.type);
    f(4, p.user_id);
    f(3, p.app_id);
    f(2, p.cluster_id);
}

}  // namespace

void encode_properties(const basic_properties& p, std::string& out) {
    std::uint16_t flags = 0;
    for_each_property(p, [&flags](int bit, const auto& v) {
        if (v) flags = static_cast<std::uint16_t>(flags | (1u << bit));
    });
    detail::put_u16(out, flags);
    for_each_property(p, [&out](int, const auto& v) {
        if (v) put(out, *v);
    });
}

namespace {

void read_properties(detail::reader& r, basic_properties& p) {
    std::uint16_t flags = 0;
    r.u16(flags);
    if (!r.ok()) return;
    if ((flags & invalid_flag_bits) != 0) return r.fail(error::bad_property_flags);
    for_each_property(p, [&r, flags](int bit, auto& v) {
        if ((flags & (1u << bit)) != 0) get(r, v.emplace());
    });
}

}  // namespace

result<basic_properties> decode_properties(std::string_view& in) {
    detail::reader r(in);
    basic_properties p;
    read_properties(r, p);
    if (!r.ok()) return r.err();
    in.remove_prefix(in.size() - r.remaining());
    return p;
}

void encode_content_header(const content_header& h, std::string& out) {
    detail::put_u16(out, h.class_id);
    detail::put_u16(out, 0);  // weight: unused, always zero
    detail::put_u64(out, h.body_size);
    encode_properties(h.properties, out);
}

result<content_header_view> peek_content_header(std::string_view payload) noexcept {
    detail::reader r(payload);
    content_header_view v;
    r.u16(v.class_id);
    r.u16(v.weight);
    r.u64(v.body_size);
    const auto props = payload.substr(payload.size() - r.remaining());
    r.u16(v.property_flags);
    if (!r.ok()) return r.err();
    v.encoded_properties = props;
    return v;
}

result<content_header> decode_content_header(std::string_view payload) {
    detail::reader r(payload);
    content_header h;
    std::uint16_t weight = 0;  // unused in 0-9-1: accepted and ignored
    r.u16(h.class_id);
    r.u16(weight);
    r.u64(h.body_size);
    read_properties(r, h.properties);
    if (!r.ok()) return r.err();
    if (r.remaining() != 0) return error::trailing_bytes;
    return h;
}

}  // namespace warren::protocol
