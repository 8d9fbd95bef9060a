#pragma once
// Private to the broker: RabbitMQ's sender-selected distribution (CC / BCC headers).

#include <warren/protocol/field_table.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace warren::broker::detail {

/// Appends the string elements of the array header `name` (CC or BCC) to `out`.
inline void append_header_keys(const protocol::field_table* headers, std::string_view name,
                               std::vector<std::string>& out) {
    if (!headers) return;
    const auto* v = headers->find(name);
    const auto* a = v ? v->get_if<protocol::field_array>() : nullptr;
    if (!a) return;
    for (const auto& e : a->values) {
        if (e.type_tag() == 'S') out.push_back(*e.as_string());
    }
}

}  // namespace warren::broker::detail
