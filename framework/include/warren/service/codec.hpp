#pragma once
// Codecs: how a typed message becomes bytes and back. A worker's typed handler, a typed RPC
// call and message_context::publish take a codec as a template argument.
//
// A codec is a class with
//     static constexpr std::string_view content_type = "...";
//     template <class T> static std::string encode(const T& value);
//     template <class T> static T decode(std::string_view bytes);   // throws decode_error
// Warren ships raw_codec (bytes as std::string) and json_codec (Boost.JSON,
// <warren/service/json.hpp>); write your own for protobuf, msgpack, ...

#include <concepts>
#include <stdexcept>
#include <string>
#include <string_view>

namespace warren {

/// A message body that its codec cannot decode. A worker treats it as not retryable: the
/// message goes straight to the error queue with this text as its x-exception-message.
class decode_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

template <class C, class T>
concept codec_for = requires(const T& value, std::string_view bytes) {
    { C::content_type } -> std::convertible_to<std::string_view>;
    { C::template encode<T>(value) } -> std::convertible_to<std::string>;
    { C::template decode<T>(bytes) } -> std::same_as<T>;
};

/// Typed messages as JSON (Boost.JSON): defined in <warren/service/json.hpp>, which a program
/// using it includes. The default codec of typed handlers and calls.
struct json_codec;

/// The body as it is: T must be std::string.
struct raw_codec {
    static constexpr std::string_view content_type = "application/octet-stream";
    template <class T>
    static std::string encode(const T& value) {
        static_assert(std::same_as<T, std::string>, "raw_codec carries std::string only");
        return value;
    }
    template <class T>
    static T decode(std::string_view bytes) {
        static_assert(std::same_as<T, std::string>, "raw_codec carries std::string only");
        return T(bytes);
    }
};

}  // namespace warren
