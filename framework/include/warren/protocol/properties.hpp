#pragma once
// Content headers: class id, body size and basic.* properties (the only content class).

#include <warren/protocol/error.hpp>
#include <warren/protocol/field_table.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::protocol {

/// basic-class content properties; an unset optional is an absent property (flag bit clear).
/// Not an aggregate, for the reason given at field_table: set the members of a named variable.
struct basic_properties {
    basic_properties() = default;

    std::optional<std::string> content_type;      // flag 15
    std::optional<std::string> content_encoding;  // flag 14
    std::optional<field_table> headers;           // flag 13
    std::optional<std::uint8_t> delivery_mode;    // flag 12 (2 = persistent)
    std::optional<std::uint8_t> priority;         // flag 11
    std::optional<std::string> correlation_id;    // flag 10
    std::optional<std::string> reply_to;          // flag 9
    std::optional<std::string> expiration;        // flag 8
    std::optional<std::string> message_id;        // flag 7
    std::optional<std::uint64_t> timestamp;       // flag 6
    std::optional<std::string> type;              // flag 5
    std::optional<std::string> user_id;           // flag 4
    std::optional<std::string> app_id;            // flag 3
    std::optional<std::string> cluster_id;        // flag 2

    bool persistent() const noexcept { return delivery_mode && *delivery_mode == 2; }
    friend bool operator==(const basic_properties&, const basic_properties&) = default;
};

/// A decoded content header frame payload.
struct content_header {
    std::uint16_t class_id = 60;
    std::uint64_t body_size = 0;
    basic_properties properties;
};

/// A content-header payload's fixed fields, its properties left as sent.
struct content_header_view {
    std::uint16_t class_id = 0;
    std::uint16_t weight = 0;
    std::uint64_t body_size = 0;
    std::uint16_t property_flags = 0;
    std::string_view encoded_properties;  ///< property flags and list, as sent
};
/// Reads the fixed fields without decoding the properties. Errors: error::truncated when the
/// payload is shorter than class id, weight, body size and property flags (14 octets).
result<content_header_view> peek_content_header(std::string_view payload) noexcept;

/// Appends property flags + property list (no class id / weight / body size).
void encode_properties(const basic_properties& p, std::string& out);
/// Decodes property flags + property list from the front of `in`, advancing it.
result<basic_properties> decode_properties(std::string_view& in);

/// Appends a whole content-header payload: class id, weight 0, body size, properties.
void encode_content_header(const content_header& h, std::string& out);
/// Decodes a whole content-header frame payload; trailing bytes are an error.
result<content_header> decode_content_header(std::string_view payload);

}  // namespace warren::protocol
