#include "detail/wire.hpp"

#include <warren/protocol/field_table.hpp>

#include <bit>
#include <utility>

namespace warren::protocol {

namespace {

// Wire tags in the order of field_value::variant_type's alternatives.
constexpr std::string_view type_tags = "VtbBsuIilfdDSxATF";
static_assert(type_tags.size() == std::variant_size_v<field_value::variant_type>);

}  // namespace

// ---------------------------------------------------------------------------------- field_table

const field_value* field_table::find(std::string_view name) const noexcept {
    for (const auto& e : entries) {
        if (e.name == name) return &e.value;
    }
    return nullptr;
}

field_value* field_table::find(std::string_view name) noexcept {
    for (auto& e : entries) {
        if (e.name == name) return &e.value;
    }
    return nullptr;
}

field_table::field_table(std::vector<field_entry> e) : entries(std::move(e)) {}

field_table& field_table::with(std::string name, field_value value) & {
    add(std::move(name), std::move(value));
    return *this;
}

field_table&& field_table::with(std::string name, field_value value) && {
    add(std::move(name), std::move(value));
    return std::move(*this);
}

void field_table::add(std::string name, field_value value) {
    entries.push_back(field_entry{std::move(name), std::move(value)});
}

void field_table::set(std::string name, field_value value) {
    if (auto* v = find(name)) {
        *v = std::move(value);
        return;
    }
    add(std::move(name), std::move(value));
}

bool operator==(const field_table& a, const field_table& b) { return a.entries == b.entries; }

bool operator==(const field_array& a, const field_array& b) { return a.values == b.values; }

bool operator==(const field_value& a, const field_value& b) { return a.value == b.value; }

// ---------------------------------------------------------------------------------- field_value

char field_value::type_tag() const noexcept {
    return value.valueless_by_exception() ? 'V' : type_tags[value.index()];
}

std::optional<std::int64_t> field_value::as_integer() const noexcept {
    // get_if rather than std::visit: nothing here may throw, even for a valueless variant.
    if (const auto* v = std::get_if<std::int8_t>(&value)) return *v;
    if (const auto* v = std::get_if<std::uint8_t>(&value)) return *v;
    if (const auto* v = std::get_if<std::int16_t>(&value)) return *v;
    if (const auto* v = std::get_if<std::uint16_t>(&value)) return *v;
    if (const auto* v = std::get_if<std::int32_t>(&value)) return *v;
    if (const auto* v = std::get_if<std::uint32_t>(&value)) return *v;
    if (const auto* v = std::get_if<std::int64_t>(&value)) return *v;
    return std::nullopt;
}

const std::string* field_value::as_string() const noexcept {
    if (const auto* s = std::get_if<std::string>(&value)) return s;
    if (const auto* b = std::get_if<byte_array>(&value)) return &b->bytes;
    return nullptr;
}

// --------------------------------------------------------------------------------------- encode

namespace {

void encode_array(const field_array& a, std::string& out) {
    const std::size_t size_at = out.size();
    detail::put_u32(out, 0);
    for (const auto& v : a.values) encode_value(v, out);
    detail::patch_u32(out, size_at, static_cast<std::uint32_t>(out.size() - size_at - 4));
}

// One overload per alternative, so encode_value is a single std::visit.
void put_payload(std::string& /*out*/, std::monostate) {}
void put_payload(std::string& out, bool v) { detail::put_u8(out, v ? 1 : 0); }
void put_payload(std::string& out, std::int8_t v) {
    detail::put_u8(out, static_cast<std::uint8_t>(v));
}
void put_payload(std::string& out, std::uint8_t v) { detail::put_u8(out, v); }
void put_payload(std::string& out, std::int16_t v) {
    detail::put_u16(out, static_cast<std::uint16_t>(v));
}
void put_payload(std::string& out, std::uint16_t v) { detail::put_u16(out, v); }
void put_payload(std::string& out, std::int32_t v) {
    detail::put_u32(out, static_cast<std::uint32_t>(v));
}
void put_payload(std::string& out, std::uint32_t v) { detail::put_u32(out, v); }
void put_payload(std::string& out, std::int64_t v) {
    detail::put_u64(out, static_cast<std::uint64_t>(v));
}
void put_payload(std::string& out, float v) {
    detail::put_u32(out, std::bit_cast<std::uint32_t>(v));
}
void put_payload(std::string& out, double v) {
    detail::put_u64(out, std::bit_cast<std::uint64_t>(v));
}
void put_payload(std::string& out, const decimal& v) {
    detail::put_u8(out, v.scale);
    detail::put_u32(out, v.value);
}
void put_payload(std::string& out, const std::string& v) { detail::put_longstr(out, v); }
void put_payload(std::string& out, const byte_array& v) { detail::put_longstr(out, v.bytes); }
void put_payload(std::string& out, const field_array& v) { encode_array(v, out); }
void put_payload(std::string& out, const timestamp& v) { detail::put_u64(out, v.seconds); }
void put_payload(std::string& out, const field_table& v) { encode_table(v, out); }

}  // namespace

void encode_value(const field_value& v, std::string& out) {
    out.push_back(v.type_tag());
    if (v.value.valueless_by_exception()) return;
    std::visit([&out](const auto& x) { put_payload(out, x); }, v.value);
}

void encode_table(const field_table& t, std::string& out) {
    const std::size_t size_at = out.size();
    detail::put_u32(out, 0);
    for (const auto& e : t.entries) {
        detail::put_shortstr(out, e.name);
        encode_value(e.value, out);
    }
    detail::patch_u32(out, size_at, static_cast<std::uint32_t>(out.size() - size_at - 4));
}

// --------------------------------------------------------------------------------------- decode

namespace detail {

namespace {

void read_array(reader& r, field_array& a, int depth);

template <class T, class Wire>
void read_as(reader& r, field_value& v, void (reader::*get)(Wire&) noexcept) {
    Wire w{};
    (r.*get)(w);
    v.value.emplace<T>(static_cast<T>(w));
}

// Decodes one tagged value; `depth` is the level of the container holding it.
void read_value(reader& r, field_value& v, int depth) {
    std::uint8_t tag = 0;
    r.u8(tag);
    if (!r.ok()) return;
    switch (static_cast<char>(tag)) {
        case 'V':
            v.value.emplace<std::monostate>();
            return;
        case 't': {
            std::uint8_t b = 0;
            r.u8(b);
            v.value.emplace<bool>(b != 0);
            return;
        }
        case 'b':
            return read_as<std::int8_t>(r, v, &reader::u8);
        case 'B':
            return read_as<std::uint8_t>(r, v, &reader::u8);
        case 's':
            return read_as<std::int16_t>(r, v, &reader::u16);
        case 'u':
            return read_as<std::uint16_t>(r, v, &reader::u16);
        case 'I':
            return read_as<std::int32_t>(r, v, &reader::u32);
        case 'i':
            return read_as<std::uint32_t>(r, v, &reader::u32);
        case 'l':
            return read_as<std::int64_t>(r, v, &reader::u64);
        case 'f': {
            std::uint32_t w = 0;
            r.u32(w);
            v.value.emplace<float>(std::bit_cast<float>(w));
            return;
        }
        case 'd': {
            std::uint64_t w = 0;
            r.u64(w);
            v.value.emplace<double>(std::bit_cast<double>(w));
            return;
        }
        case 'D': {
            auto& d = v.value.emplace<decimal>();
            r.u8(d.scale);
            r.u32(d.value);
            return;
        }
        case 'S':
            return r.longstr(v.value.emplace<std::string>());
        case 'x':
            return r.longstr(v.value.emplace<byte_array>().bytes);
        case 'T':
            return r.u64(v.value.emplace<timestamp>().seconds);
        case 'A':
            return read_array(r, v.value.emplace<field_array>(), depth + 1);
        case 'F':
            return read_table(r, v.value.emplace<field_table>(), depth + 1);
        default:
            return r.fail(error::bad_field_type);
    }
}

// The body of a table or array: a uint32 size checked against what is left, then a sub-reader
// over exactly that many bytes, so an entry can never read past its container.
template <class Body>
void read_container(reader& r, int depth, Body body) {
    if (depth > max_field_nesting) return r.fail(error::nesting_too_deep);
    std::uint32_t size = 0;
    r.u32(size);
    reader sub(r.take(size));
    if (!r.ok()) return;
    while (sub.remaining() != 0 && sub.ok()) body(sub);
    if (!sub.ok()) r.fail(sub.err());
}

void read_array(reader& r, field_array& a, int depth) {
    read_container(r, depth,
                   [&a, depth](reader& sub) { read_value(sub, a.values.emplace_back(), depth); });
}

}  // namespace

void read_table(reader& r, field_table& t, int depth) {
    read_container(r, depth, [&t, depth](reader& sub) {
        auto& e = t.entries.emplace_back();
        sub.shortstr(e.name);
        read_value(sub, e.value, depth);
    });
}

}  // namespace detail

result<field_table> decode_table(std::string_view& in) {
    detail::reader r(in);
    field_table t;
    detail::read_table(r, t, 1);
    if (!r.ok()) return r.err();
    in.remove_prefix(in.size() - r.remaining());
    return t;
}

}  // namespace warren::protocol
