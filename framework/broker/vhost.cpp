#include "arguments.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/persistence.hpp>
#include <warren/broker/vhost.hpp>

#include <algorithm>
#include <array>

namespace warren::broker {

namespace {

std::string quoted(std::string_view kind, std::string_view name, std::string_view vhost) {
    std::string s;
    s.reserve(kind.size() + name.size() + vhost.size() + 16);
    s.append(kind).append(" '").append(name).append("' in vhost '").append(vhost).append("'");
    return s;
}

std::string_view bool_text(bool b) { return b ? "true" : "false"; }

bool persisted(const exchange& x) { return x.options().durable && !x.is_default(); }

}  // namespace

bool vhost::binding_persisted(const exchange& src, const binding& b) const {
    if (!broker_.store() || !persisted(src)) return false;
    return b.to_queue ? b.to_queue->store_id() != 0 : persisted(*b.to_exchange);
}

void vhost::record_binding(const exchange& src, const binding& b, bool added) {
    if (!binding_persisted(src, b)) return;
    binding_definition d{name_,
                         src.name(),
                         b.to_queue ? b.to_queue->name() : b.to_exchange->name(),
                         b.to_queue != nullptr,
                         b.key,
                         b.arguments};
    if (added) {
        broker_.store()->binding_added(d);
    } else {
        broker_.store()->binding_removed(d);
    }
}

exchange& vhost::recover_exchange(std::string name, exchange_kind kind, exchange_options options) {
    auto& slot = exchanges_[name];
    if (!slot) slot = std::make_unique<exchange>(std::move(name), kind, std::move(options));
    return *slot;
}

vhost::vhost(broker& b, std::string name) : broker_(b), name_(std::move(name)) {
    declare_builtin_exchanges();
}

vhost::~vhost() = default;

void vhost::declare_builtin_exchanges() {
    auto add = [&](std::string name, exchange_kind k, bool internal) {
        exchange_options o{
            .durable = true, .auto_delete = false, .internal = internal, .arguments = {}};
        auto x = std::make_unique<exchange>(name, k, std::move(o));
        exchanges_.emplace(std::move(name), std::move(x));
    };
    add("", exchange_kind::direct, false);
    add("amq.direct", exchange_kind::direct, false);
    add("amq.fanout", exchange_kind::fanout, false);
    add("amq.topic", exchange_kind::topic, false);
    add("amq.headers", exchange_kind::headers, false);
    add("amq.match", exchange_kind::headers, false);
    add("amq.rabbitmq.trace", exchange_kind::topic, true);
}

exchange* vhost::find_exchange(std::string_view name) const {
    auto it = exchanges_.find(name);
    return it == exchanges_.end() ? nullptr : it->second.get();
}

std::shared_ptr<queue> vhost::find_queue(std::string_view name) const {
    auto it = queues_.find(name);
    return it == queues_.end() ? nullptr : it->second;
}

result<exchange*> vhost::declare_exchange(std::string_view name, std::string_view type,
                                          const exchange_options& options, bool passive) {
    if (name.empty()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    if (passive) {
        if (auto* x = find_exchange(name)) return x;
        return make_error(reply_code::not_found, "no " + quoted("exchange", name, name_));
    }
    auto kind = parse_exchange_kind(type);
    if (!kind) {
        // RabbitMQ: "x-" types are plugin types it does not have; anything else is invalid.
        return make_error(reply_code::command_invalid,
                          std::string(type.starts_with("x-") ? "unknown" : "invalid") +
                              " exchange type '" + std::string(type) + "'");
    }
    exchange* x = find_exchange(name);
    if (!x) {
        if (name.starts_with("amq.")) {
            return make_error(reply_code::access_refused, "exchange name '" + std::string(name) +
                                                              "' contains reserved prefix 'amq.*'");
        }
        if (auto r = detail::check_alternate_exchange_argument(quoted("exchange", name, name_),
                                                               options.arguments);
            !r) {
            return r.error();
        }
        auto owned = std::make_unique<exchange>(std::string(name), *kind, options);
        x = owned.get();
        exchanges_.emplace(std::string(name), std::move(owned));
        if (auto* store = broker_.store(); store && options.durable) {
            store->exchange_declared(exchange_definition{name_, x->name(), *kind, options});
        }
        return x;
    }
    auto inequivalent = [&](std::string_view arg, std::string_view got, std::string_view cur) {
        return make_error(reply_code::precondition_failed,
                          "inequivalent arg '" + std::string(arg) + "' for " +
                              quoted("exchange", name, name_) + ": received '" + std::string(got) +
                              "' but current is '" + std::string(cur) + "'");
    };
    const auto& cur = x->options();
    if (x->kind() != *kind) return inequivalent("type", to_string(*kind), to_string(x->kind()));
    if (cur.durable != options.durable)
        return inequivalent("durable", bool_text(options.durable), bool_text(cur.durable));
    if (cur.auto_delete != options.auto_delete)
        return inequivalent("auto_delete", bool_text(options.auto_delete),
                            bool_text(cur.auto_delete));
    if (cur.internal != options.internal)
        return inequivalent("internal", bool_text(options.internal), bool_text(cur.internal));
    if (auto r = detail::check_equivalent(quoted("exchange", name, name_), cur.arguments,
                                          options.arguments, detail::exchange_equivalence_keys);
        !r) {
        return r.error();
    }
    return x;
}

result<void> vhost::delete_exchange(std::string_view name, bool if_unused) {
    if (name.empty()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    if (name.starts_with("amq.")) {
        return make_error(reply_code::access_refused,
                          "deletion of system " + quoted("exchange", name, name_) + " not allowed");
    }
    exchange* x = find_exchange(name);
    if (!x) return {};  // RabbitMQ 3.10: deleting a missing exchange succeeds
    if (if_unused && x->has_bindings()) {
        return make_error(reply_code::precondition_failed,
                          quoted("exchange", name, name_) + " in use");
    }
    delete_exchange_now(*x);
    return {};
}

void vhost::delete_exchange_now(exchange& x) {
    // Bindings from x: tell their destinations.
    for (auto& b : x.bindings()) {
        record_binding(x, b, false);
        if (b.to_queue) b.to_queue->note_unbound(x, b.key);
        if (b.to_exchange) b.to_exchange->note_unbound_from(x);
    }
    // Bindings to x from other exchanges: remove them (a source may then auto-delete).
    auto sources = x.sources();
    for (auto* src : sources) {
        for (auto& b : src->bindings()) {
            if (b.to_exchange == &x) record_binding(*src, b, false);
        }
        src->remove_bindings_to(x);
    }
    if (auto* store = broker_.store(); store && persisted(x))
        store->exchange_deleted(name_, x.name());
    auto owned = std::move(exchanges_[x.name()]);
    ++exchange_generation_;
    exchanges_.erase(x.name());
    for (auto* src : sources) {
        if (src != &x) maybe_auto_delete(*src);
    }
}

void vhost::maybe_auto_delete(exchange& x) {
    if (x.options().auto_delete && !x.has_bindings() && !x.is_default()) delete_exchange_now(x);
}

std::shared_ptr<queue> vhost::add_queue(std::string name, queue_options options,
                                        connection* owner) {
    const bool persist = options.durable && !options.exclusive && !options.auto_delete;
    auto q = std::make_shared<queue>(*this, name, std::move(options), owner);
    if (auto* store = broker_.store(); store && persist) {
        q->set_store_id(store->queue_declared(queue_definition{name_, name, q->options()}));
    }
    queues_[std::move(name)] = q;
    q->touch();  // x-expires counts from the declare (or from recovery)
    return q;
}

std::uint32_t vhost::delete_queue(queue& q) {
    auto keep = q.shared_from_this();
    auto count = static_cast<std::uint32_t>(q.ready_count());
    q.mark_deleted();
    // Cancel consumers (copy: consumer_gone edits the list).
    auto consumers = q.consumers();
    for (auto* c : consumers) c->ch->consumer_gone(*c);
    auto bound = q.bound_from();  // copy: maybe_auto_delete below may edit the original
    for (auto& [x, keys] : bound) {
        for (const auto& b : x->take_bindings_to(q, keys)) record_binding(*x, b, false);
    }
    if (auto* store = broker_.store(); store && q.store_id() != 0)
        store->queue_deleted(q.store_id());
    queues_.erase(q.name());
    for (auto& entry : bound) maybe_auto_delete(*entry.first);
    q.purge();
    broker_.deadline_gone();
    return count;
}

result<void> vhost::bind_queue(queue& q, exchange& x, std::string key, protocol::field_table args) {
    if (x.is_default()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    binding b{&q, nullptr, std::move(key), std::move(args)};
    if (x.add_binding(b)) {
        q.note_bound(x, b.key);
        record_binding(x, b, true);
    }
    return {};
}

result<void> vhost::unbind_queue(queue& q, exchange& x, const std::string& key,
                                 const protocol::field_table& args) {
    if (x.is_default()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    binding b{&q, nullptr, key, args};
    if (x.remove_binding(b)) {
        record_binding(x, b, false);
        q.note_unbound(x, key);
        maybe_auto_delete(x);
    }
    return {};
}

result<void> vhost::bind_exchange(exchange& dst, exchange& src, std::string key,
                                  protocol::field_table args) {
    if (dst.is_default() || src.is_default()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    binding b{nullptr, &dst, std::move(key), std::move(args)};
    if (src.add_binding(b)) {
        dst.note_bound_from(src);
        record_binding(src, b, true);
    }
    return {};
}

result<void> vhost::unbind_exchange(exchange& dst, exchange& src, const std::string& key,
                                    const protocol::field_table& args) {
    if (dst.is_default() || src.is_default()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    binding b{nullptr, &dst, key, args};
    if (src.remove_binding(b)) {
        record_binding(src, b, false);
        dst.note_unbound_from(src);
        maybe_auto_delete(src);
    }
    return {};
}

void vhost::route(const exchange& x, std::string_view routing_key,
                  const protocol::field_table* headers, std::vector<queue*>& out,
                  std::span<const std::string_view> extra_keys) {
    out.clear();
    if (x.is_default()) {
        auto it = queues_.find(routing_key);
        if (it != queues_.end()) out.push_back(it->second.get());
        for (auto key : extra_keys) {
            if (auto k = queues_.find(key); k != queues_.end()) out.push_back(k->second.get());
        }
    } else {
        auto& pending = scratch_exchanges_;
        auto& visited = scratch_visited_;
        pending.clear();
        visited.clear();
        auto match = [&](const exchange& e) {
            const auto before = out.size() + pending.size();
            e.match(routing_key, headers, out, pending);
            for (auto key : extra_keys) e.match(key, headers, out, pending);
            // Nothing matched: the alternate exchange gets the message (a missing one is ignored).
            if (out.size() + pending.size() == before && !e.alternate().empty()) {
                if (auto* ae = find_exchange(e.alternate())) pending.push_back(ae);
            }
        };
        match(x);
        if (!pending.empty()) {
            visited.push_back(&x);
            while (!pending.empty()) {
                exchange* next = pending.back();
                pending.pop_back();
                if (std::find(visited.begin(), visited.end(), next) != visited.end()) continue;
                visited.push_back(next);
                match(*next);
            }
        }
    }
    if (out.size() > 1) {
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
    }
}

std::string vhost::generate_name(std::string_view prefix) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::array<unsigned char, 16> bytes{};
    auto& rng = broker_.rng();
    for (std::size_t i = 0; i < bytes.size(); i += 8) {
        auto v = rng();
        for (std::size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<unsigned char>(v >> (8 * j));
    }
    std::string s(prefix);
    s.push_back('-');
    // base64url without padding: 16 bytes -> 22 characters (as RabbitMQ's rabbit_guid)
    unsigned bits = 0;
    int nbits = 0;
    for (auto b : bytes) {
        bits = (bits << 8) | b;
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            s.push_back(alphabet[(bits >> nbits) & 0x3F]);
        }
    }
    if (nbits > 0) s.push_back(alphabet[(bits << (6 - nbits)) & 0x3F]);
    return s;
}

}  // namespace warren::broker
