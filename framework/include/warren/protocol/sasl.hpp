#pragma once
// The SASL responses a client sends in connection.start-ok (PLAIN and AMQPLAIN, the mechanisms
// RabbitMQ offers by default). Pure functions; nothing here throws except std::bad_alloc.

#include <optional>
#include <string>
#include <string_view>

namespace warren::protocol {

struct sasl_credentials {
    std::string user;
    std::string password;
};

/// Decodes `response` for `mechanism`: "PLAIN" is `[authzid] NUL authcid NUL passwd`, "AMQPLAIN"
/// a field table without its length prefix holding LOGIN and PASSWORD. A malformed response
/// gives empty credentials (the login then fails, as RabbitMQ's does); an unknown mechanism
/// gives nullopt.
std::optional<sasl_credentials> decode_sasl_response(std::string_view mechanism,
                                                     std::string_view response);

}  // namespace warren::protocol
