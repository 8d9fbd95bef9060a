#pragma once
// json_codec: typed messages as JSON through Boost.JSON. A type works if Boost.JSON can convert
// it: a described struct (BOOST_DESCRIBE_STRUCT), standard containers, or a type with
// tag_invoke(value_from_tag / value_to_tag) overloads.
//
//     struct job { std::string id; int size; };
//     BOOST_DESCRIBE_STRUCT(job, (), (id, size))
//     co_await w.run<job>([](job j, warren::message_context& m) -> asio::awaitable<void> { ... });

#include <warren/service/codec.hpp>

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <typeinfo>

namespace warren {

struct json_codec {
    static constexpr std::string_view content_type = "application/json";

    template <class T>
    static std::string encode(const T& value) {
        return boost::json::serialize(boost::json::value_from(value));
    }

    /// Throws decode_error when `bytes` is not JSON or does not convert to T.
    template <class T>
    static T decode(std::string_view bytes) {
        boost::system::error_code ec;
        auto v = boost::json::parse(bytes, ec);
        if (ec) throw decode_error("not JSON: " + ec.message());
        auto r = boost::json::try_value_to<T>(v);
        if (!r) throw decode_error("JSON does not match the expected type: " + r.error().message());
        return std::move(*r);
    }
};

}  // namespace warren
