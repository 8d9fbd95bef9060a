#pragma once
// AMQP field tables and arrays with every type tag RabbitMQ accepts (see the 0-9-1 errata):
//   t bool, b int8, B uint8, s int16, u uint16, I int32, i uint32, l int64, f float, d double,
//   D decimal, S long string, x byte array, A array, T timestamp, F table, V void.
// Tables keep their wire order (and duplicate keys) so that decode→encode is byte-exact.

#include <warren/protocol/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace warren::protocol {

struct field_value;
struct field_entry;

/// 'D': value / 10^scale.
struct decimal {
    std::uint8_t scale = 0;
    std::uint32_t value = 0;
    friend bool operator==(const decimal&, const decimal&) = default;
};

/// 'T': seconds since the epoch.
struct timestamp {
    std::uint64_t seconds = 0;
    friend bool operator==(const timestamp&, const timestamp&) = default;
};

/// 'x': opaque bytes (RabbitMQ extension).
struct byte_array {
    std::string bytes;
    friend bool operator==(const byte_array&, const byte_array&) = default;
};

/// 'F': an ordered list of name/value pairs.
///
/// Not an aggregate (it has constructors): GCC 12 destroys a braced aggregate temporary that
/// owns memory twice inside a co_await expression, and a constructor call is not affected. To
/// build one in an expression: `field_table().with("x-queue-type", "quorum")`.
struct field_table {
    field_table() = default;
    explicit field_table(std::vector<field_entry> e);

    std::vector<field_entry> entries;

    /// add(), for building a table in one expression.
    field_table& with(std::string name, field_value value) &;
    field_table&& with(std::string name, field_value value) &&;

    /// First entry named `name`, or nullptr.
    const field_value* find(std::string_view name) const noexcept;
    field_value* find(std::string_view name) noexcept;
    /// Appends (does not replace).
    void add(std::string name, field_value value);
    /// Replaces the first entry named `name`, or appends.
    void set(std::string name, field_value value);
    bool empty() const noexcept;
    std::size_t size() const noexcept;
    friend bool operator==(const field_table&, const field_table&);
};

/// 'A'
struct field_array {
    std::vector<field_value> values;
    friend bool operator==(const field_array&, const field_array&);
};

struct field_value {
    using variant_type = std::variant<std::monostate,  // V
                                      bool,            // t
                                      std::int8_t,     // b
                                      std::uint8_t,    // B
                                      std::int16_t,    // s
                                      std::uint16_t,   // u
                                      std::int32_t,    // I
                                      std::uint32_t,   // i
                                      std::int64_t,    // l
                                      float,           // f
                                      double,          // d
                                      decimal,         // D
                                      std::string,     // S
                                      byte_array,      // x
                                      field_array,     // A
                                      timestamp,       // T
                                      field_table>;    // F
    variant_type value;

    field_value() = default;
    // The constraint excludes field_value itself (not a variant alternative), so this does not
    // hide the copy and move constructors; clang-tidy 14 does not read requires-clauses.
    template <class T>
    requires std::is_constructible_v<variant_type, T&&>
    // NOLINTNEXTLINE(google-explicit-constructor,bugprone-forwarding-reference-overload)
    field_value(T&& v) : value(std::forward<T>(v)) {}
    field_value(const char* s);  // NOLINT(google-explicit-constructor)

    template <class T>
    const T* get_if() const noexcept {
        return std::get_if<T>(&value);
    }
    /// The wire type tag of the held value ('S', 'I', ...).
    char type_tag() const noexcept;
    /// The value as a signed integer if it holds any integer type (b B s u I i l), else nullopt.
    std::optional<std::int64_t> as_integer() const noexcept;
    /// The string if it holds 'S' (or 'x'), else nullptr.
    const std::string* as_string() const noexcept;
    friend bool operator==(const field_value&, const field_value&);
};

struct field_entry {
    std::string name;
    field_value value;
    friend bool operator==(const field_entry&, const field_entry&) = default;
};

// Defined here, where field_entry is complete: clang instantiates std::vector<field_entry> members
// (and field_table's destructor) at the point of an inline definition.
inline bool field_table::empty() const noexcept { return entries.empty(); }
inline std::size_t field_table::size() const noexcept { return entries.size(); }
inline field_value::field_value(const char* s) : value(std::string(s)) {}

/// Maximum nesting of tables/arrays accepted by decode (deeper input is bad input, not a crash).
inline constexpr int max_field_nesting = 64;

/// Appends the table in wire form (uint32 size + entries).
void encode_table(const field_table& t, std::string& out);
/// Appends a single value: type tag + payload.
void encode_value(const field_value& v, std::string& out);

/// Decodes a table (uint32 size + entries) from the front of `in`, advancing `in` past it.
result<field_table> decode_table(std::string_view& in);

}  // namespace warren::protocol
