#include "detail/bytes.hpp"

#include <warren/protocol/field_table.hpp>
#include <warren/store/definitions.hpp>
#include <warren/store/record.hpp>

#include <algorithm>

namespace warren::store {

using detail::put_le;
using detail::put_str;

namespace {

bool same_binding(const broker::binding_definition& a, const broker::binding_definition& b) {
    return a.vhost == b.vhost && a.source == b.source && a.destination == b.destination &&
           a.destination_is_queue == b.destination_is_queue && a.key == b.key &&
           a.arguments == b.arguments;
}

void put_table(std::string& out, const protocol::field_table& t) {
    std::string encoded;
    protocol::encode_table(t, encoded);
    put_le(out, static_cast<std::uint32_t>(encoded.size()));
    out.append(encoded);
}

bool get_table(detail::reader& r, protocol::field_table& t) {
    std::uint32_t n = 0;
    std::string_view bytes;
    if (!r.get(n) || !r.bytes(n, bytes)) return false;
    // encode_table writes the table with its own u32 size prefix
    auto decoded = protocol::decode_table(bytes);
    if (!decoded || !bytes.empty()) return false;
    t = std::move(*decoded);
    return true;
}

std::uint8_t flags(bool a, bool b, bool c) {
    return static_cast<std::uint8_t>((a ? 1 : 0) | (b ? 2 : 0) | (c ? 4 : 0));
}

bool decode_exchange(std::string_view payload, definitions& d) {
    detail::reader r(payload);
    broker::exchange_definition x;
    std::uint8_t kind = 0;
    std::uint8_t f = 0;
    r.str(x.vhost);
    r.str(x.name);
    r.get(kind);
    r.get(f);
    if (!r.ok() || kind > static_cast<std::uint8_t>(broker::exchange_kind::headers)) return false;
    if (!get_table(r, x.options.arguments) || !r.done()) return false;
    x.kind = static_cast<broker::exchange_kind>(kind);
    x.options.durable = (f & 1) != 0;
    x.options.auto_delete = (f & 2) != 0;
    x.options.internal = (f & 4) != 0;
    d.exchanges[{x.vhost, x.name}] = std::move(x);
    return true;
}

bool decode_queue(std::string_view payload, definitions& d) {
    detail::reader r(payload);
    broker::queue_definition q;
    std::uint32_t id = 0;
    std::uint8_t f = 0;
    r.get(id);
    r.str(q.vhost);
    r.str(q.name);
    r.get(f);
    if (!r.ok() || id == 0 || !get_table(r, q.options.arguments) || !r.done()) return false;
    q.options.durable = (f & 1) != 0;
    q.options.exclusive = (f & 2) != 0;
    q.options.auto_delete = (f & 4) != 0;
    d.queues[id] = std::move(q);
    d.next_queue_id = std::max(d.next_queue_id, id + 1);
    return true;
}

bool decode_binding(std::string_view payload, definitions& d) {
    detail::reader r(payload);
    broker::binding_definition b;
    std::uint8_t to_queue = 0;
    r.str(b.vhost);
    r.str(b.source);
    r.str(b.destination);
    r.get(to_queue);
    r.str(b.key);
    if (!r.ok() || !get_table(r, b.arguments) || !r.done()) return false;
    b.destination_is_queue = to_queue != 0;
    d.bindings.push_back(std::move(b));
    return true;
}

bool decode_one(const record_view& rec, definitions& d, bool& ended) {
    switch (rec.kind) {
        case record_kind::meta: {
            detail::reader r(rec.payload);
            std::uint32_t next = 0;
            if (!r.get(next) || !r.done()) return false;
            d.next_queue_id = std::max(d.next_queue_id, next);
            return true;
        }
        case record_kind::exchange:
            return decode_exchange(rec.payload, d);
        case record_kind::queue:
            return decode_queue(rec.payload, d);
        case record_kind::binding:
            return decode_binding(rec.payload, d);
        case record_kind::end:
            ended = true;
            return true;
        default:
            return false;
    }
}

}  // namespace

void definitions::add_exchange(const broker::exchange_definition& x) {
    exchanges[{x.vhost, x.name}] = x;
}

void definitions::remove_exchange(std::string_view vhost, std::string_view name) {
    exchanges.erase({std::string(vhost), std::string(name)});
}

std::uint32_t definitions::add_queue(const broker::queue_definition& q) {
    const auto id = next_queue_id++;
    queues[id] = q;
    return id;
}

void definitions::remove_queue(std::uint32_t id) { queues.erase(id); }

void definitions::add_binding(const broker::binding_definition& b) {
    for (const auto& e : bindings) {
        if (same_binding(e, b)) return;
    }
    bindings.push_back(b);
}

void definitions::remove_binding(const broker::binding_definition& b) {
    std::erase_if(bindings,
                  [&](const broker::binding_definition& e) { return same_binding(e, b); });
}

std::string encode_definitions(const definitions& d) {
    std::string out(definitions_magic);
    auto start = begin_record(out, record_kind::meta);
    put_le(out, d.next_queue_id);
    end_record(out, start);
    for (const auto& [key, x] : d.exchanges) {
        start = begin_record(out, record_kind::exchange);
        put_str(out, x.vhost);
        put_str(out, x.name);
        put_le(out, static_cast<std::uint8_t>(x.kind));
        put_le(out, flags(x.options.durable, x.options.auto_delete, x.options.internal));
        put_table(out, x.options.arguments);
        end_record(out, start);
    }
    for (const auto& [id, q] : d.queues) {
        start = begin_record(out, record_kind::queue);
        put_le(out, id);
        put_str(out, q.vhost);
        put_str(out, q.name);
        put_le(out, flags(q.options.durable, q.options.exclusive, q.options.auto_delete));
        put_table(out, q.options.arguments);
        end_record(out, start);
    }
    for (const auto& b : d.bindings) {
        start = begin_record(out, record_kind::binding);
        put_str(out, b.vhost);
        put_str(out, b.source);
        put_str(out, b.destination);
        put_le(out, static_cast<std::uint8_t>(b.destination_is_queue ? 1 : 0));
        put_str(out, b.key);
        put_table(out, b.arguments);
        end_record(out, start);
    }
    start = begin_record(out, record_kind::end);
    end_record(out, start);
    return out;
}

bool decode_definitions(std::string_view file, definitions& out, std::string& problem) {
    if (!file.starts_with(definitions_magic)) {
        problem = "not a definitions file (bad magic)";
        return false;
    }
    std::size_t offset = definitions_magic.size();
    bool ended = false;
    while (!ended) {
        record_view rec;
        const auto st = parse_record(file.substr(offset), rec);
        if (st != parse_status::ok) {
            problem = (st == parse_status::end ? "truncated" : "damaged") +
                      std::string(" definitions file at offset ") + std::to_string(offset);
            return false;
        }
        if (!decode_one(rec, out, ended)) {
            problem = "malformed definition record at offset " + std::to_string(offset);
            return false;
        }
        offset += rec.size;
    }
    return true;
}

}  // namespace warren::store
