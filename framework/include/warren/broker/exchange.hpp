#pragma once
// Exchanges and their bindings; routing for direct, fanout, topic and headers exchanges.

#include <warren/broker/detail/key_index.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/string_map.hpp>
#include <warren/protocol/field_table.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace warren::broker {

enum class exchange_kind { direct, fanout, topic, headers };

std::optional<exchange_kind> parse_exchange_kind(std::string_view s) noexcept;
std::string_view to_string(exchange_kind k) noexcept;

struct exchange_options {
    bool durable = false;
    bool auto_delete = false;
    bool internal = false;
    protocol::field_table arguments;
};

/// A binding's target: a queue or (exchange-to-exchange) an exchange.
struct binding {
    queue* to_queue = nullptr;
    exchange* to_exchange = nullptr;
    std::string key;
    protocol::field_table arguments;
};

class exchange {
  public:
    exchange(std::string name, exchange_kind kind, exchange_options options);

    const std::string& name() const noexcept { return name_; }
    exchange_kind kind() const noexcept { return kind_; }
    const exchange_options& options() const noexcept { return options_; }
    bool is_default() const noexcept { return name_.empty(); }
    /// The `alternate-exchange` argument ("" when absent: the default exchange is never an AE).
    const std::string& alternate() const noexcept { return alternate_; }

    /// Adds a binding; returns false if an identical binding already exists.
    bool add_binding(binding b);
    /// Removes a binding; returns false if there was none.
    bool remove_binding(const binding& b);
    /// Removes every binding whose destination is `x`.
    void remove_bindings_to(const exchange& x);
    /// Removes every binding to `q` under one of `keys` (the queue's own record of its
    /// bindings here) and returns them; visits only those keys' buckets.
    std::vector<binding> take_bindings_to(const queue& q, const std::vector<std::string>& keys);
    bool has_bindings() const noexcept { return binding_count_ != 0; }
    std::size_t binding_count() const noexcept { return binding_count_; }
    /// All bindings (for listing, persistence and deletion).
    std::vector<binding> bindings() const;

    /// Appends the destinations matching (routing_key, headers), not deduplicated.
    void match(std::string_view routing_key, const protocol::field_table* headers,
               std::vector<queue*>& queues, std::vector<exchange*>& exchanges) const;

    // Exchanges bound *to* this one (exchange-to-exchange), for deletion.
    void note_bound_from(exchange& src) { ++bound_from_[&src]; }
    void note_unbound_from(exchange& src);
    std::vector<exchange*> sources() const;

  private:
    friend class route_lookahead;  // reads direct_ to load a key's bindings ahead of routing
    std::string name_;
    exchange_kind kind_;
    exchange_options options_;
    std::string alternate_;
    // Bindings grouped by key: direct looks up one bucket; topic matches each pattern once.
    string_map<std::vector<binding>> by_key_;
    // A direct exchange's buckets by the key's hash (the nodes of by_key_ do not move).
    detail::key_index<const std::vector<binding>> direct_;
    void erase_bucket(string_map<std::vector<binding>>::iterator it);
    std::size_t binding_count_ = 0;
    std::unordered_map<exchange*, std::uint32_t> bound_from_;
};

/// RabbitMQ topic matching: words split on '.', '*' = exactly one word, '#' = zero or more.
bool topic_matches(std::string_view pattern, std::string_view key) noexcept;

/// Headers-exchange matching of a binding's arguments against message headers (x-match).
bool headers_match(const protocol::field_table& binding_args,
                   const protocol::field_table* headers) noexcept;

}  // namespace warren::broker
