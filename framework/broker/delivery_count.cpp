#include "delivery_count.hpp"

#include <warren/protocol/properties.hpp>

#include <algorithm>

namespace warren::broker::detail {

message_ptr with_delivery_count(const message& m, std::uint32_t count) {
    auto copy = acquire_message();
    copy->exchange = m.exchange;
    copy->routing_key = m.routing_key;
    copy->id = m.id;
    copy->expiration_ms = m.expiration_ms;
    copy->published_ms = m.published_ms;
    if (!m.no_properties()) copy->properties = m.properties;
    auto& headers =
        copy->properties.headers ? *copy->properties.headers : copy->properties.headers.emplace();
    headers.set("x-delivery-count", std::int64_t{count});
    std::stable_sort(headers.entries.begin(), headers.entries.end(),
                     [](const auto& a, const auto& b) { return a.name < b.name; });
    protocol::encode_properties(copy->properties, copy->encoded_properties);
    reserve_body(*copy, m.body.size());
    copy->body = m.body;
    return copy;
}

}  // namespace warren::broker::detail
