#pragma once
// Private to the broker: RabbitMQ's sender-selected distribution (CC / BCC headers).

#include <warren/protocol/field_table.hpp>

#include <string>
#include <string_view>

namespace warren::broker::detail {

/// Calls `each(const std::string&)` for every long-string element of the array header `name`
/// (CC or BCC) in `headers`. As in RabbitMQ, a missing header, a header that is not an array,
/// and non-string elements are ignored; `headers` may be null.
template <class F>
void for_each_header_key(const protocol::field_table* headers, std::string_view name, F&& each) {
    if (!headers) return;
    const auto* v = headers->find(name);
    const auto* a = v ? v->get_if<protocol::field_array>() : nullptr;
    if (!a) return;
    for (const auto& e : a->values) {
        if (const auto* s = e.get_if<std::string>()) each(*s);
    }
}

}  // namespace warren::broker::detail
