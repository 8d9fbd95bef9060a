#pragma once
// A virtual host: its exchanges, queues and bindings, and routing.

#include <warren/broker/error.hpp>
#include <warren/broker/exchange.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/persistence.hpp>
#include <warren/broker/queue.hpp>
#include <warren/broker/string_map.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace warren::broker {

class vhost {
  public:
    vhost(broker& b, std::string name);
    ~vhost();
    vhost(const vhost&) = delete;
    vhost& operator=(const vhost&) = delete;

    const std::string& name() const noexcept { return name_; }
    broker& owner() const noexcept { return broker_; }

    exchange* find_exchange(std::string_view name) const;
    /// Changes whenever an exchange is deleted: an exchange* kept since the same value is
    /// still valid (the routing look-ahead keeps them across frames).
    std::uint64_t exchange_generation() const noexcept { return exchange_generation_; }
    std::shared_ptr<queue> find_queue(std::string_view name) const;
    std::size_t queue_count() const noexcept { return queues_.size(); }
    /// Calls `f(const queue&)` for every queue, in no particular order (for listings and tests).
    template <class F>
    void for_each_queue(F&& f) const {
        for (const auto& entry : queues_) f(static_cast<const queue&>(*entry.second));
    }
    std::size_t exchange_count() const noexcept { return exchanges_.size(); }

    /// exchange.declare semantics (passive, equivalence, reserved names) as RabbitMQ 3.10.
    result<exchange*> declare_exchange(std::string_view name, std::string_view type,
                                       const exchange_options& options, bool passive);
    result<void> delete_exchange(std::string_view name, bool if_unused);

    /// Creates a queue without checks (declare_queue validates first).
    std::shared_ptr<queue> add_queue(std::string name, queue_options options, connection* owner);
    /// Deletes the queue: cancels its consumers (notifying them), drops its bindings (and
    /// auto-delete exchanges left without bindings), forgets it. Returns the ready count.
    std::uint32_t delete_queue(queue& q);

    result<void> bind_queue(queue& q, exchange& x, std::string key, protocol::field_table args);
    result<void> unbind_queue(queue& q, exchange& x, const std::string& key,
                              const protocol::field_table& args);
    result<void> bind_exchange(exchange& dst, exchange& src, std::string key,
                               protocol::field_table args);
    result<void> unbind_exchange(exchange& dst, exchange& src, const std::string& key,
                                 const protocol::field_table& args);

    /// Recovery: recreates an exchange without checks and without recording it.
    exchange& recover_exchange(std::string name, exchange_kind kind, exchange_options options);

    /// The set of queues a message published to `x` reaches (each once), following
    /// exchange-to-exchange bindings without loops. `extra_keys` are further routing keys (the
    /// CC and BCC headers), matched like the routing key. An exchange that matches nothing for
    /// any key hands the message to its alternate exchange, if that exists (chains followed,
    /// cycles cut, the default exchange never used as one), as RabbitMQ 3.10.
    void route(const exchange& x, std::string_view routing_key,
               const protocol::field_table* headers, std::vector<queue*>& out,
               std::span<const std::string_view> extra_keys = {});

    /// Scratch space of the publish path, kept here so that a publish allocates nothing: the
    /// routed queues, the CC/BCC keys and the store ids. Nothing re-enters a publish while it
    /// uses them (the broker raises events and defers dead letters instead of handling them
    /// inside a call).
    struct publish_scratch_space {
        std::vector<queue*> targets;
        std::vector<std::string_view> keys;
        std::vector<store_queue_id> store_ids;
    };
    publish_scratch_space& publish_scratch() noexcept { return publish_scratch_; }

    /// A fresh server-generated name with the given prefix ("amq.gen", "amq.ctag").
    std::string generate_name(std::string_view prefix);

    /// Direct reply-to: the live reply-to names (amq.rabbitmq.reply-to.<channel>.<key>) and the
    /// channels whose reply consumers they reach. A channel unregisters its name when its reply
    /// consumer is cancelled or the channel closes; names are never reused.
    void register_reply_to(std::string name, channel& ch) { reply_to_[std::move(name)] = &ch; }
    void unregister_reply_to(std::string_view name) {
        if (auto it = reply_to_.find(name); it != reply_to_.end()) reply_to_.erase(it);
    }
    channel* find_reply_to(std::string_view name) const {
        auto it = reply_to_.find(name);
        return it == reply_to_.end() ? nullptr : it->second;
    }

  private:
    void declare_builtin_exchanges();
    void delete_exchange_now(exchange& x);
    void maybe_auto_delete(exchange& x);
    bool binding_persisted(const exchange& src, const binding& b) const;
    void record_binding(const exchange& src, const binding& b, bool added);

    broker& broker_;
    std::string name_;
    string_map<std::unique_ptr<exchange>> exchanges_;
    std::uint64_t exchange_generation_ = 0;
    string_map<std::shared_ptr<queue>> queues_;
    string_map<channel*> reply_to_;
    publish_scratch_space publish_scratch_;
    // scratch space for route(), reused to keep publishing allocation-free
    std::vector<exchange*> scratch_exchanges_;
    std::vector<const exchange*> scratch_visited_;
};

}  // namespace warren::broker
