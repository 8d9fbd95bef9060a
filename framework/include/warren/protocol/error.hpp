#pragma once
// Framing and syntax errors reported by the codec. The codec never throws.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace warren::protocol {

enum class error {
    truncated = 1,       ///< a method, header or field ran past the end of its payload
    frame_too_large,     ///< frame size above the negotiated frame_max
    bad_frame_end,       ///< frame-end octet was not 0xCE
    bad_frame_type,      ///< frame type not in {1,2,3,8}
    unknown_method,      ///< class/method id pair not in the spec
    bad_field_type,      ///< field-table value type tag RabbitMQ does not accept
    trailing_bytes,      ///< payload longer than the method's arguments
    bad_property_flags,  ///< content header property flags use reserved bits / continuation
    nesting_too_deep,    ///< field tables / arrays nested beyond the supported depth
    string_too_long,     ///< shortstr over 255 octets on encode
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

template <class T>
using result = boost::system::result<T>;

}  // namespace warren::protocol

template <>
struct boost::system::is_error_code_enum<warren::protocol::error> : std::true_type {};
