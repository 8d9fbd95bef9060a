#pragma once
// Method frame payloads: encode (per struct, or through the `method` variant), decode (one pass,
// never trusting a length), and helpers that append whole method frames.
//
// Thread-safety: every function here is a pure function of its arguments; none keeps state.
// Errors: nothing here throws (apart from std::bad_alloc when growing a std::string); decode
// failures are returned as `error` values in result<T>.

#include <warren/protocol/error.hpp>
#include <warren/protocol/frame.hpp>
#include <warren/protocol/methods.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace warren::protocol {

/// A generated method struct (connection_start, basic_publish, ...).
template <class M>
concept method_struct = requires(const M& m, std::string& out) {
    { M::class_id_v } -> std::convertible_to<std::uint16_t>;
    { M::method_id_v } -> std::convertible_to<std::uint16_t>;
    { M::name_v } -> std::convertible_to<std::string_view>;
    encode_args(m, out);
};

namespace detail {
/// Appends class id and method id (4 octets).
void append_method_id(std::string& out, std::uint16_t class_id, std::uint16_t method_id);
/// Appends a frame header with a zero size; returns the offset of the size field.
std::size_t begin_frame(std::string& out, frame_type type, std::uint16_t channel);
/// Patches the size field written by begin_frame at `size_at` and appends the frame-end octet.
void end_frame(std::string& out, std::size_t size_at) noexcept;
}  // namespace detail

/// Appends class id, method id and arguments (a method frame's payload) to `out`.
/// Precondition: every shortstr argument is at most 255 bytes (see check_lengths); a longer one
/// is cut to 255 bytes so the output stays well-formed.
void encode_method(const method& m, std::string& out);

/// As above for one concrete struct, without variant dispatch (the hot path: basic_publish,
/// basic_deliver, basic_ack ...).
template <method_struct M>
void encode_method(const M& m, std::string& out) {
    detail::append_method_id(out, M::class_id_v, M::method_id_v);
    encode_args(m, out);
}

/// Decodes a method frame payload (class id, method id, arguments), in one pass.
/// Errors: error::truncated (an argument runs past the end), error::unknown_method (id pair not
/// in the spec), error::trailing_bytes (payload longer than the arguments), error::bad_field_type
/// and error::nesting_too_deep (inside a field table).
result<method> decode_method(std::string_view payload);

/// Hot-path decoders for what a busy channel sends most. They decode a payload into an existing
/// struct, reusing its strings' capacity (no allocation per message), and return false on
/// anything unusual (other ids, truncation, trailing bytes); the caller then falls back to
/// decode_method, which reports the exact error.
bool decode_into(std::string_view payload, basic_publish& m);
bool decode_into(std::string_view payload, basic_ack& m);
bool decode_into(std::string_view payload, basic_deliver& m);

/// The class and method id at the front of a payload, without decoding the arguments (so that a
/// peer can name the offending method in an error reply). Errors: error::truncated (< 4 bytes).
result<std::pair<std::uint16_t, std::uint16_t>> peek_method_id(std::string_view payload) noexcept;

/// A method frame payload split into its ids and its arguments, which are not decoded.
struct method_view {
    std::uint16_t class_id = 0;
    std::uint16_t method_id = 0;
    std::string_view arguments;
};
/// Errors: error::truncated (< 4 bytes).
result<method_view> peek_method(std::string_view payload) noexcept;

/// Where a basic.publish goes, read from its method frame payload without decoding the rest
/// (for a routing look-ahead over frames not handled yet).
struct publish_route {
    std::string_view exchange;
    std::string_view routing_key;
};
/// nullopt for any other method and for a payload too short for the two names; never throws.
/// The views point into `payload`.
std::optional<publish_route> peek_publish(std::string_view payload) noexcept;

/// The AMQP class id of the held method, e.g. 50 for queue_declare.
std::uint16_t class_id_of(const method& m) noexcept;
/// The AMQP method id of the held method, e.g. 10 for queue_declare.
std::uint16_t method_id_of(const method& m) noexcept;
/// The spec name of the held method, e.g. "queue.declare".
std::string_view name_of(const method& m) noexcept;

/// error::string_too_long when any shortstr argument of `m` exceeds 255 bytes (encoding would cut
/// it), otherwise success. For callers that take names from users.
result<void> check_lengths(const method& m) noexcept;

/// Appends a complete method frame (header, payload, frame-end) to `out`; the size field is
/// patched in place, so no temporary buffer is used. Same precondition as encode_method.
void append_method_frame(std::string& out, std::uint16_t channel, const method& m);

/// As above for one concrete struct, without variant dispatch.
template <method_struct M>
void append_method_frame(std::string& out, std::uint16_t channel, const M& m) {
    const std::size_t size_at = detail::begin_frame(out, frame_type::method, channel);
    encode_method(m, out);
    detail::end_frame(out, size_at);
}

/// Appends a complete basic.deliver method frame from its fields, byte-identical to
/// append_method_frame(out, channel, basic_deliver{...}) but without building the struct (the
/// broker's per-delivery path). Shortstrs longer than 255 bytes are cut as encode_method does.
void append_basic_deliver(std::string& out, std::uint16_t channel, std::string_view consumer_tag,
                          std::uint64_t delivery_tag, bool redelivered, std::string_view exchange,
                          std::string_view routing_key);

}  // namespace warren::protocol
