#include "detail/wire.hpp"

#include <warren/protocol/field_table.hpp>
#include <warren/protocol/sasl.hpp>

namespace warren::protocol {

namespace {

sasl_credentials decode_plain(std::string_view response) {
    sasl_credentials c;
    const auto first = response.find('\0');
    const auto second = first == std::string_view::npos ? first : response.find('\0', first + 1);
    if (second != std::string_view::npos) {
        c.user.assign(response.substr(first + 1, second - first - 1));
        c.password.assign(response.substr(second + 1));
    }
    return c;
}

sasl_credentials decode_amqplain(std::string_view response) {
    sasl_credentials c;
    std::string framed;
    framed.reserve(response.size() + 4);
    detail::put_longstr(framed, response);
    std::string_view in(framed);
    if (auto t = decode_table(in)) {
        if (const auto* s = t->find("LOGIN"); s && s->as_string()) c.user = *s->as_string();
        if (const auto* s = t->find("PASSWORD"); s && s->as_string()) c.password = *s->as_string();
    }
    return c;
}

}  // namespace

std::optional<sasl_credentials> decode_sasl_response(std::string_view mechanism,
                                                     std::string_view response) {
    if (mechanism == "PLAIN") return decode_plain(response);
    if (mechanism == "AMQPLAIN") return decode_amqplain(response);
    return std::nullopt;
}

}  // namespace warren::protocol
