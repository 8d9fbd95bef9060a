#pragma once
// The persisted topology: durable exchanges, persisted queues (with their store ids) and
// bindings between persisted things. Kept in memory by the store and written as a whole to
// DIR/definitions (temp file, fsync, rename, fsync dir) whenever it changed.

#include <warren/broker/persistence.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::store {

struct definitions {
    /// Ids are never reused, so that a deleted queue's records cannot be mistaken for a new one's.
    std::uint32_t next_queue_id = 1;
    /// Keyed by (vhost, name).
    std::map<std::pair<std::string, std::string>, broker::exchange_definition> exchanges;
    std::map<std::uint32_t, broker::queue_definition> queues;
    /// In the order they were added (recovery re-adds them in that order).
    std::vector<broker::binding_definition> bindings;

    void add_exchange(const broker::exchange_definition& x);
    void remove_exchange(std::string_view vhost, std::string_view name);
    std::uint32_t add_queue(const broker::queue_definition& q);
    void remove_queue(std::uint32_t id);
    void add_binding(const broker::binding_definition& b);
    void remove_binding(const broker::binding_definition& b);
};

/// The whole file: magic, a meta record, one record per definition, an end record.
std::string encode_definitions(const definitions& d);

/// Decodes a definitions file. On damage it keeps every definition before it and returns
/// false with a one-line description in `problem`. Never throws on bad input.
bool decode_definitions(std::string_view file, definitions& out, std::string& problem);

}  // namespace warren::store
