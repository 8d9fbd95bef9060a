#pragma once
// The body of the frame-parser fuzz target, shared by the libFuzzer binary (fuzz_frame_parser.cpp,
// clang only) and the doctest fuzz smoke test (tests/protocol/fuzz_smoke_test.cpp), so that g++
// builds run the same checks over a fixed corpus and seeded mutations.

#include <warren/protocol/codec.hpp>
#include <warren/protocol/field_table.hpp>
#include <warren/protocol/frame.hpp>
#include <warren/protocol/properties.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace warren::protocol::fuzz {

namespace detail {

// decode(x) succeeded: encoding the result and decoding that again must succeed and encode to
// the same bytes (decode→encode is a projection; values such as NaN payloads survive bit for bit).
inline bool method_is_stable(const method& m) {
    std::string once;
    encode_method(m, once);
    auto again = decode_method(once);
    if (!again) return false;
    std::string twice;
    encode_method(*again, twice);
    return once == twice;
}

inline bool header_is_stable(const content_header& h) {
    std::string once;
    encode_content_header(h, once);
    auto again = decode_content_header(once);
    if (!again) return false;
    std::string twice;
    encode_content_header(*again, twice);
    return once == twice;
}

inline bool table_is_stable(const field_table& t) {
    std::string once;
    encode_table(t, once);
    std::string_view in = once;
    auto again = decode_table(in);
    if (!again || !in.empty()) return false;
    std::string twice;
    encode_table(*again, twice);
    return once == twice;
}

// Runs every decoder over one payload; false when an invariant breaks.
inline bool check_payload(std::string_view payload) {
    if (auto m = decode_method(payload); m && !method_is_stable(*m)) return false;
    if (auto h = decode_content_header(payload); h && !header_is_stable(*h)) return false;
    std::string_view in = payload;
    if (auto t = decode_table(in); t && !table_is_stable(*t)) return false;
    return true;
}

struct seen_frame {
    std::uint8_t type;
    std::uint16_t channel;
    std::string payload;
    bool operator==(const seen_frame&) const = default;
};

}  // namespace detail

/// Parses `data` as a stream of frames twice: with parse_frame over the whole input, and with
/// frame_parser fed in chunks whose sizes come from the first byte; both must agree. Every payload
/// goes through decode_method, decode_content_header and decode_table, and whatever decodes must
/// re-encode stably. Returns false when an invariant breaks; never crashes on any input.
inline bool run_frame_parser_input(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return true;
    const std::size_t chunk = std::size_t{data[0]} % 32 + 1;
    const std::uint32_t frame_max = (data[0] & 0x80) != 0 ? 4096 : 0;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    std::vector<detail::seen_frame> direct;
    boost::system::error_code direct_ec;
    for (std::string_view rest = input;;) {
        const parse_result r = parse_frame(rest, frame_max);
        if (r.ec) direct_ec = r.ec;
        if (r.ec || r.consumed == 0) break;
        if (r.consumed > rest.size() || r.frame.payload.size() + frame_overhead != r.consumed) {
            return false;
        }
        if (!detail::check_payload(r.frame.payload)) return false;
        direct.push_back({static_cast<std::uint8_t>(r.frame.type), r.frame.channel,
                          std::string(r.frame.payload)});
        rest.remove_prefix(r.consumed);
    }

    frame_parser parser(frame_max);
    std::vector<detail::seen_frame> chunked;
    boost::system::error_code chunked_ec;
    for (std::string_view rest = input; !rest.empty() && !chunked_ec;) {
        const std::size_t n = rest.size() < chunk ? rest.size() : chunk;
        parser.feed(rest.substr(0, n));
        rest.remove_prefix(n);
        for (;;) {
            auto f = parser.next();
            if (!f) {
                chunked_ec = f.error();
                break;
            }
            if (!*f) break;
            chunked.push_back(
                {static_cast<std::uint8_t>((*f)->type), (*f)->channel, std::string((*f)->payload)});
        }
    }
    return direct == chunked && direct_ec == chunked_ec;
}

}  // namespace warren::protocol::fuzz
