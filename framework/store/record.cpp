#include "detail/bytes.hpp"

#include <warren/store/crc32c.hpp>
#include <warren/store/record.hpp>

namespace warren::store {

using detail::get_le;
using detail::put_le;

std::size_t begin_record(std::string& out, record_kind kind) {
    const std::size_t start = out.size();
    out.append(record_header_size, '\0');
    out.push_back(static_cast<char>(kind));
    return start;
}

void end_record(std::string& out, std::size_t start) {
    const auto length = static_cast<std::uint32_t>(out.size() - start - record_header_size);
    detail::patch_le(out, start, length);
    std::string_view all(out);
    std::uint32_t crc = crc32c(all.substr(start, 4));
    crc = crc32c(all.substr(start + record_header_size), crc);
    detail::patch_le(out, start + 4, crc);
}

void append_enqueue(std::string& out, const broker::message& m,
                    std::span<const std::uint32_t> queues) {
    out.reserve(out.size() + 40 + 4 * queues.size() + m.exchange.size() + m.routing_key.size() +
                m.encoded_properties.size() + m.body.size());
    const auto start = begin_record(out, record_kind::enqueue_timed);
    put_le(out, static_cast<std::uint64_t>(m.published_ms));
    put_le(out, m.id);
    put_le(out, static_cast<std::uint16_t>(queues.size()));
    for (auto q : queues) put_le(out, q);
    detail::put_str(out, m.exchange);
    detail::put_str(out, m.routing_key);
    put_le(out, static_cast<std::uint32_t>(m.encoded_properties.size()));
    out.append(m.encoded_properties);
    out.append(m.body);
    end_record(out, start);
}

void append_settle(std::string& out, record_kind kind, std::uint32_t queue, std::uint64_t id) {
    const auto start = begin_record(out, kind);
    put_le(out, queue);
    put_le(out, id);
    end_record(out, start);
}

parse_status parse_record(std::string_view in, record_view& out) noexcept {
    if (in.empty()) return parse_status::end;
    if (in.size() < record_header_size) return parse_status::torn;
    const auto length = get_le<std::uint32_t>(in.data());
    if (length == 0 || length > max_record_length) return parse_status::corrupt;
    if (in.size() - record_header_size < length) return parse_status::torn;
    const auto stored = get_le<std::uint32_t>(in.data() + 4);
    const auto body = in.substr(record_header_size, length);
    if (crc32c(body, crc32c(in.substr(0, 4))) != stored) return parse_status::corrupt;
    out.kind = static_cast<record_kind>(static_cast<unsigned char>(body[0]));
    out.payload = body.substr(1);
    out.size = record_header_size + length;
    return parse_status::ok;
}

bool decode_enqueue(std::string_view payload, enqueue_record& out) {
    detail::reader r(payload);
    out.published_ms = 0;
    std::uint16_t n = 0;
    if (!r.get(out.id) || !r.get(n)) return false;
    out.queues.resize(n);
    for (auto& q : out.queues) r.get(q);
    std::uint32_t props = 0;
    r.str(out.exchange);
    r.str(out.routing_key);
    r.get(props);
    r.bytes(props, out.properties);
    if (!r.ok()) return false;
    out.body = r.rest();
    return true;
}

bool decode_enqueue_timed(std::string_view payload, enqueue_record& out) {
    if (payload.size() < 8) return false;
    out.published_ms = static_cast<std::int64_t>(get_le<std::uint64_t>(payload.data()));
    payload.remove_prefix(8);
    const auto published = out.published_ms;
    if (!decode_enqueue(payload, out)) return false;
    out.published_ms = published;
    return true;
}

bool decode_settle(std::string_view payload, settle_record& out) noexcept {
    detail::reader r(payload);
    r.get(out.queue);
    r.get(out.id);
    return r.done();
}

}  // namespace warren::store
