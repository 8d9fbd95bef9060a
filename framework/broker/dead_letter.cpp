// queue::dead_letter: RabbitMQ 3.10's dead-lettering (docs/rabbitmq-extensions-behaviour.md §4):
// the message is republished, as a new message, to the queue's dead-letter exchange with an
// updated x-death history, through the vhost's routing.
#include "routing_keys.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/persistence.hpp>
#include <warren/broker/queue.hpp>
#include <warren/broker/vhost.hpp>

#include <algorithm>

namespace warren::broker {

namespace {

using protocol::field_array;
using protocol::field_table;
using protocol::field_value;

std::string_view reason_text(death_reason r) noexcept {
    switch (r) {
        case death_reason::rejected:
            return "rejected";
        case death_reason::expired:
            return "expired";
        case death_reason::maxlen:
            return "maxlen";
        case death_reason::delivery_limit:
            return "delivery_limit";
    }
    return "rejected";
}

const std::string* string_field(const field_table& t, std::string_view key) {
    const auto* v = t.find(key);
    return v && v->type_tag() == 'S' ? v->as_string() : nullptr;
}

void sort_by_key(field_table& t) {
    std::stable_sort(t.entries.begin(), t.entries.end(),
                     [](const auto& a, const auto& b) { return a.name < b.name; });
}

struct death {
    death_reason reason;
    std::string_view queue;
    std::string_view exchange;             // where the message was last published to
    const std::vector<std::string>& keys;  // routing key + CC
    const std::optional<std::string>& expiration;
    std::int64_t time_s;
};

field_table new_entry(const death& d) {
    field_array keys;
    for (const auto& k : d.keys) keys.values.emplace_back(k);
    field_table e;
    e.add("count", std::int64_t{1});
    e.add("reason", std::string(reason_text(d.reason)));
    e.add("queue", std::string(d.queue));
    e.add("time", protocol::timestamp{static_cast<std::uint64_t>(d.time_s)});
    e.add("exchange", std::string(d.exchange));
    e.add("routing-keys", std::move(keys));
    if (d.expiration) e.add("original-expiration", *d.expiration);
    return e;
}

// Updates `headers` as RabbitMQ 3.10 does (first death vs later deaths), then sorts them.
void record_death(field_table& headers, const death& d) {
    auto* existing = headers.find("x-death");
    const auto* history = existing ? existing->get_if<field_array>() : nullptr;
    if (!existing) {
        field_array deaths;
        deaths.values.emplace_back(new_entry(d));
        headers.add("x-death", std::move(deaths));
        headers.add("x-first-death-exchange", std::string(d.exchange));
        headers.add("x-first-death-queue", std::string(d.queue));
        headers.add("x-first-death-reason", std::string(reason_text(d.reason)));
    } else {
        field_array deaths;
        field_table updated;
        bool found = false;
        if (history) {
            for (const auto& v : history->values) {
                const auto* t = v.get_if<field_table>();
                const auto* q = t ? string_field(*t, "queue") : nullptr;
                const auto* r = t ? string_field(*t, "reason") : nullptr;
                if (!found && q && r && *q == d.queue && *r == reason_text(d.reason)) {
                    found = true;
                    updated = *t;
                    const auto* c = updated.find("count");
                    auto n = c && c->as_integer() ? *c->as_integer() + 1 : 1;
                    updated.set("count", std::int64_t{n});
                } else {
                    deaths.values.push_back(v);
                }
            }
        }
        if (!found) updated = new_entry(d);
        sort_by_key(updated);
        deaths.values.insert(deaths.values.begin(), field_value(std::move(updated)));
        existing->value = std::move(deaths);
    }
    sort_by_key(headers);
}

// The cycle rule: skip a target that is already in the history unless a `rejected` death
// comes first (from the front of the list).
bool is_cycle(const field_table& headers, std::string_view target) {
    const auto* v = headers.find("x-death");
    const auto* deaths = v ? v->get_if<field_array>() : nullptr;
    if (!deaths) return false;
    for (const auto& e : deaths->values) {
        const auto* t = e.get_if<field_table>();
        if (!t) continue;
        const auto* r = string_field(*t, "reason");
        if (r && *r == "rejected") return false;
        const auto* q = string_field(*t, "queue");
        if (q && *q == target) return true;
    }
    return false;
}

}  // namespace

void queue::dead_letter(const message_ptr& msg, death_reason reason) {
    if (!limits_.dead_letter_exchange || deleted_) return;
    vhost_.owner().defer_dead_letter(shared_from_this(), msg, reason);
}

void queue::route_dead_letter(const message_ptr& msg, death_reason reason) {
    auto& b = vhost_.owner();
    auto* x = vhost_.find_exchange(*limits_.dead_letter_exchange);
    if (!x) return;  // a missing dead-letter exchange drops the message silently

    const field_table* old_headers = msg->properties.headers ? &*msg->properties.headers : nullptr;
    std::vector<std::string> death_keys{msg->routing_key};
    detail::for_each_header_key(old_headers, "CC",
                                [&](const std::string& k) { death_keys.push_back(k); });

    auto dl = acquire_message();
    dl->properties = msg->properties;
    dl->properties.expiration.reset();
    auto& headers =
        dl->properties.headers ? *dl->properties.headers : dl->properties.headers.emplace();
    record_death(headers, death{reason, name_, msg->exchange, death_keys,
                                msg->properties.expiration, b.wall_ms() / 1000});
    protocol::encode_properties(dl->properties, dl->encoded_properties);
    dl->exchange = *limits_.dead_letter_exchange;
    reserve_body(*dl, msg->body.size());
    dl->body = msg->body;

    // Routing keys: the configured one, else the original key plus CC and BCC.
    std::vector<std::string> keys;
    if (limits_.dead_letter_routing_key) {
        keys.push_back(*limits_.dead_letter_routing_key);
    } else {
        keys = death_keys;
        keys.insert(keys.end(), msg->bcc.begin(), msg->bcc.end());
    }
    dl->routing_key = keys.front();
    std::vector<queue*> targets;
    std::vector<queue*> found;
    for (const auto& k : keys) {
        vhost_.route(*x, k, &headers, found);
        targets.insert(targets.end(), found.begin(), found.end());
    }
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    std::erase_if(targets, [&](queue* q) { return is_cycle(headers, q->name()); });
    if (targets.empty()) return;

    // A persistent message to persisted queues is recorded as any publish is.
    auto* store = b.store();
    if (dl->persistent() && store) {
        dl->id = b.next_message_id();
        dl->published_ms = b.wall_ms();
        std::vector<store_queue_id> ids;
        for (auto* q : targets) {
            if (q->store_id() != 0) ids.push_back(q->store_id());
        }
        if (ids.empty()) {
            dl->id = 0;
        } else {
            store->enqueued(*dl, ids);
        }
    }
    message_ptr shared = std::move(dl);
    std::vector<std::shared_ptr<queue>> keep;
    for (auto* q : targets) keep.push_back(q->shared_from_this());
    const auto now = b.now();
    for (auto& q : keep) q->enqueue(shared, now);
}

}  // namespace warren::broker
