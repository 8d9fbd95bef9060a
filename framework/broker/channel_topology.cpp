// channel: exchange.* and queue.* methods.
#include "arguments.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>

namespace warren::broker {

namespace {

std::string describe(std::string_view kind, std::string_view name, const vhost& vh) {
    return std::string(kind) + " '" + std::string(name) + "' in vhost '" + vh.name() + "'";
}

amqp_error locked(std::string_view name, const vhost& vh) {
    return make_error(
        reply_code::resource_locked,
        "cannot obtain exclusive access to locked " + describe("queue", name, vh) +
            ". It could be originally declared on another connection or the exclusive "
            "property value does not match that of the original declaration.");
}

std::string_view bool_text(bool b) { return b ? "true" : "false"; }

}  // namespace

result<std::string> channel::expand_queue_name(std::string_view name) const {
    if (!name.empty()) return std::string(name);
    if (last_queue_.empty())
        return make_error(reply_code::not_found, "no previously declared queue");
    return last_queue_;
}

result<void> channel::check_exclusive_access(const queue& q) const {
    if (q.exclusive() && q.owner() != &conn_) return locked(q.name(), conn_.host());
    return {};
}

result<std::shared_ptr<queue>> channel::find_queue_for_use(std::string_view name) {
    auto expanded = expand_queue_name(name);
    if (!expanded) return expanded.error();
    auto q = conn_.host().find_queue(*expanded);
    if (!q)
        return make_error(reply_code::not_found,
                          "no " + describe("queue", *expanded, conn_.host()));
    if (auto r = check_exclusive_access(*q); !r) return r.error();
    return q;
}

result<void> channel::exchange_declare(const protocol::exchange_declare& m) {
    exchange_options o{.durable = m.durable,
                       .auto_delete = m.auto_delete,
                       .internal = m.internal,
                       .arguments = m.arguments};
    auto r = conn_.host().declare_exchange(m.exchange, m.type, o, m.passive);
    if (!r) return r.error();
    return {};
}

result<void> channel::exchange_delete(const protocol::exchange_delete& m) {
    return conn_.host().delete_exchange(m.exchange, m.if_unused);
}

result<void> channel::exchange_bind(const protocol::exchange_bind& m) {
    auto& vh = conn_.host();
    if (m.destination.empty() || m.source.empty()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    auto* src = vh.find_exchange(m.source);
    if (!src) return make_error(reply_code::not_found, "no " + describe("exchange", m.source, vh));
    auto* dst = vh.find_exchange(m.destination);
    if (!dst)
        return make_error(reply_code::not_found, "no " + describe("exchange", m.destination, vh));
    if (auto r = check_binding_arguments(*src, m.arguments); !r) return r;
    return vh.bind_exchange(*dst, *src, m.routing_key, m.arguments);
}

result<void> channel::exchange_unbind(const protocol::exchange_unbind& m) {
    auto& vh = conn_.host();
    if (m.destination.empty() || m.source.empty()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    auto* src = vh.find_exchange(m.source);
    auto* dst = vh.find_exchange(m.destination);
    if (!src || !dst) return {};  // removing a binding that cannot exist succeeds
    return vh.unbind_exchange(*dst, *src, m.routing_key, m.arguments);
}

result<protocol::queue_declare_ok> channel::queue_declare(const protocol::queue_declare& m) {
    auto& vh = conn_.host();
    if (m.queue.starts_with(reply_to_queue)) {
        // The direct reply-to pseudo-queue and live reply-to names, passive or not (RabbitMQ 3.10).
        if (m.queue == reply_to_queue || vh.find_reply_to(m.queue)) {
            return protocol::queue_declare_ok{m.queue, 0, 1};
        }
        return make_error(reply_code::not_found, "no " + describe("queue", m.queue, vh));
    }
    if (m.passive) {
        // A passive declare names its queue: "" is not the last declared one here (RabbitMQ).
        auto q = vh.find_queue(m.queue);
        if (!q) return make_error(reply_code::not_found, "no " + describe("queue", m.queue, vh));
        if (auto r = check_exclusive_access(*q); !r) return r.error();
        q->touch();
        last_queue_ = q->name();
        return protocol::queue_declare_ok{q->name(), static_cast<std::uint32_t>(q->ready_count()),
                                          static_cast<std::uint32_t>(q->declared_consumer_count())};
    }
    std::string name = m.queue;
    const bool server_named = name.empty();
    if (server_named) {
        name = vh.generate_name("amq.gen");
    } else if (name.starts_with("amq.")) {
        return make_error(reply_code::access_refused,
                          "queue name '" + name + "' contains reserved prefix 'amq.*'");
    }
    auto q = vh.find_queue(name);
    if (q) {
        // RabbitMQ checks exclusivity strictly on redeclare: same owner, same exclusive flag.
        connection* want_owner = m.exclusive ? &conn_ : nullptr;
        if (q->owner() != want_owner) return locked(name, vh);
        auto inequivalent = [&](std::string_view arg, bool got, bool cur) {
            return make_error(reply_code::precondition_failed,
                              "inequivalent arg '" + std::string(arg) + "' for " +
                                  describe("queue", name, vh) + ": received '" +
                                  std::string(bool_text(got)) + "' but current is '" +
                                  std::string(bool_text(cur)) + "'");
        };
        if (q->durable() != m.durable) return inequivalent("durable", m.durable, q->durable());
        if (q->auto_delete() != m.auto_delete) {
            return inequivalent("auto_delete", m.auto_delete, q->auto_delete());
        }
        const auto keys = q->quorum()
                              ? std::span<const std::string_view>(detail::quorum_equivalence_keys)
                              : std::span<const std::string_view>(detail::queue_equivalence_keys);
        if (auto r = detail::check_equivalent(describe("queue", name, vh), q->options().arguments,
                                              m.arguments, keys);
            !r) {
            return r.error();
        }
        q->touch();
    } else {
        const detail::queue_declare_flags flags{.durable = m.durable,
                                                .exclusive = m.exclusive,
                                                .auto_delete = m.auto_delete,
                                                .server_named = server_named};
        if (auto r = detail::validate_queue_arguments(m.arguments, name, vh.name(), flags); !r) {
            return r.error();
        }
        queue_options o{.durable = m.durable,
                        .exclusive = m.exclusive,
                        .auto_delete = m.auto_delete,
                        .arguments = m.arguments};
        q = vh.add_queue(name, std::move(o), m.exclusive ? &conn_ : nullptr);
        if (m.exclusive) conn_.add_exclusive_queue(q);
    }
    last_queue_ = name;
    return protocol::queue_declare_ok{name, static_cast<std::uint32_t>(q->ready_count()),
                                      static_cast<std::uint32_t>(q->declared_consumer_count())};
}

result<std::pair<exchange*, std::shared_ptr<queue>>> channel::binding_ends(
    std::string_view queue_name, std::string_view exchange_name) {
    auto& vh = conn_.host();
    auto qname = expand_queue_name(queue_name);
    if (!qname) return qname.error();
    if (exchange_name.empty()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    auto* x = vh.find_exchange(exchange_name);
    if (!x)
        return make_error(reply_code::not_found, "no " + describe("exchange", exchange_name, vh));
    auto q = vh.find_queue(*qname);
    if (!q) return make_error(reply_code::not_found, "no " + describe("queue", *qname, vh));
    if (auto r = check_exclusive_access(*q); !r) return r.error();
    return std::pair{x, std::move(q)};
}

result<void> channel::queue_bind(const protocol::queue_bind& m) {
    auto ends = binding_ends(m.queue, m.exchange);
    if (!ends) return ends.error();
    auto& [x, q] = *ends;
    if (auto r = check_binding_arguments(*x, m.arguments); !r) return r;
    // An empty queue name means the last declared queue; with an empty key, that name is the key.
    std::string key = (m.queue.empty() && m.routing_key.empty()) ? q->name() : m.routing_key;
    return conn_.host().bind_queue(*q, *x, std::move(key), m.arguments);
}

result<void> channel::queue_unbind(const protocol::queue_unbind& m) {
    // RabbitMQ: unbinding something that does not exist (binding, queue or exchange) succeeds;
    // only an existing binding of another connection's exclusive queue is refused.
    auto& vh = conn_.host();
    auto qname = expand_queue_name(m.queue);
    if (!qname) return qname.error();
    if (m.exchange.empty()) {
        return make_error(reply_code::access_refused,
                          "operation not permitted on the default exchange");
    }
    auto* x = vh.find_exchange(m.exchange);
    auto q = vh.find_queue(*qname);
    if (!x || !q) return {};
    std::string key = (m.queue.empty() && m.routing_key.empty()) ? q->name() : m.routing_key;
    if (q->exclusive() && q->owner() != &conn_) {
        for (const auto& b : x->bindings()) {
            if (b.to_queue == q.get() && b.key == key && b.arguments == m.arguments) {
                return check_exclusive_access(*q);
            }
        }
        return {};
    }
    return vh.unbind_queue(*q, *x, key, m.arguments);
}

result<void> channel::check_binding_arguments(const exchange& x,
                                              const protocol::field_table& args) {
    if (x.kind() != exchange_kind::headers) return {};
    const auto* xm = args.find("x-match");
    if (!xm) return {};
    const auto* s = xm->as_string();
    if (s && (*s == "all" || *s == "any" || *s == "all-with-x" || *s == "any-with-x")) return {};
    std::string shown = s ? "<<\"" + *s + "\">>" : std::string("a non-string value");
    return make_error(
        reply_code::precondition_failed,
        "Invalid x-match field value " + shown + "; expected all, any, all-with-x, or any-with-x");
}

result<std::uint32_t> channel::queue_purge(const protocol::queue_purge& m) {
    auto q = find_queue_for_use(m.queue);
    if (!q) return q.error();
    return (*q)->purge();
}

result<std::uint32_t> channel::queue_delete(const protocol::queue_delete& m) {
    auto& vh = conn_.host();
    auto qname = expand_queue_name(m.queue);
    if (!qname) return qname.error();
    auto q = vh.find_queue(*qname);
    if (!q) return std::uint32_t{0};  // RabbitMQ 3.10: deleting a missing queue succeeds
    if (auto r = check_exclusive_access(*q); !r) return r.error();
    if (m.if_unused && q->consumer_count() > 0) {
        return make_error(reply_code::precondition_failed,
                          describe("queue", *qname, vh) + " in use");
    }
    if (m.if_empty && q->ready_count() > 0) {
        return make_error(reply_code::precondition_failed,
                          describe("queue", *qname, vh) + " not empty");
    }
    return vh.delete_queue(*q);
}

}  // namespace warren::broker
