// Validation of queue.declare arguments and of the `expiration` property, with RabbitMQ 3.10's
// texts and check order (docs/rabbitmq-extensions-behaviour.md §1), and the parsed settings.
//
// Each argument has one small check function returning RabbitMQ's <reason> (nullopt when the
// value is valid); `common_checks` lists them in RabbitMQ's order. Arguments of other
// features get their own function and an entry at their place in that list.
#include "arguments.hpp"

#include <warren/broker/queue_limits.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <string>

namespace warren::broker {

namespace detail {

namespace {

using protocol::field_table;
using protocol::field_value;
using reason = std::optional<std::string>;

bool is_string(const field_value& v) { return v.type_tag() == 'S'; }

reason unacceptable_type(const field_value& v) {
    return "{unacceptable_type," + std::string(type_name(v)) + "}";
}

reason expected_integer(const field_value& v) {
    return "\"expected integer, got " + std::string(type_name(v)) + "\"";
}

/// An integer in [min, max] (RabbitMQ's check_int_arg plus its range checks).
reason check_int(const field_value& v, bool zero_ok, std::optional<std::int64_t> max) {
    auto i = v.as_integer();
    if (!i) return expected_integer(v);
    if (*i < 0) return "{value_negative," + std::to_string(*i) + "}";
    if (*i == 0 && !zero_ok) return "{value_zero,0}";
    if (max && *i > *max) return "{value_too_large," + std::to_string(*i) + "}";
    return std::nullopt;
}

reason check_expires(const field_value& v, const field_table&) {
    return check_int(v, false, max_ttl_ms);
}
reason check_message_ttl(const field_value& v, const field_table&) {
    return check_int(v, true, max_ttl_ms);
}
reason check_length(const field_value& v, const field_table&) {
    return check_int(v, true, std::nullopt);
}

reason check_dead_letter_routing_key(const field_value& v, const field_table& args) {
    if (!is_string(v)) return unacceptable_type(v);
    if (!args.find("x-dead-letter-exchange")) return std::string("routing_key_but_no_dlx_defined");
    return std::nullopt;
}

reason check_overflow(const field_value& v, const field_table&) {
    if (!is_string(v)) return unacceptable_type(v);
    const auto& s = *v.as_string();
    if (s == "drop-head" || s == "reject-publish" || s == "reject-publish-dlx") return std::nullopt;
    return std::string("invalid_overflow");
}

reason check_queue_mode(const field_value& v, const field_table&) {
    if (!is_string(v)) return unacceptable_type(v);
    const auto& s = *v.as_string();
    if (s == "default" || s == "lazy") return std::nullopt;
    return "\"unsupported queue mode '" + s + "'\"";
}

struct arg_check {
    std::string_view name;
    reason (*check)(const field_value&, const field_table&);
};

// RabbitMQ 3.10's order after x-dead-letter-exchange and x-queue-type. x-max-priority goes
// after x-max-length-bytes, x-single-active-consumer after x-queue-mode.
reason check_max_priority(const field_value& v, const field_table&) {
    return max_priority_error(v);
}
reason check_single_active(const field_value& v, const field_table&) {
    return single_active_consumer_error(v);
}

constexpr arg_check common_checks[] = {
    {"x-expires", check_expires},
    {"x-message-ttl", check_message_ttl},
    {"x-dead-letter-routing-key", check_dead_letter_routing_key},
    {"x-max-length", check_length},
    {"x-max-length-bytes", check_length},
    {"x-max-priority", check_max_priority},
    {"x-overflow", check_overflow},
    {"x-queue-mode", check_queue_mode},
    {"x-single-active-consumer", check_single_active},
};

reason check_dead_letter_strategy(const field_value& v, const field_table&) {
    if (!is_string(v)) return unacceptable_type(v);
    const auto& s = *v.as_string();
    if (s == "at-most-once" || s == "at-least-once") return std::nullopt;
    return std::string("invalid_dlx_strategy");
}
reason check_group_size(const field_value& v, const field_table&) {
    return check_int(v, false, std::nullopt);
}
reason check_leader_locator(const field_value& v, const field_table&) {
    if (!is_string(v)) return unacceptable_type(v);
    const auto& s = *v.as_string();
    if (s == "client-local" || s == "balanced" || s == "random" || s == "least-leaders")
        return std::nullopt;
    return std::string("invalid_queue_locator_arg");
}

// A quorum queue's checks, in RabbitMQ 3.10's order (§14.1): only the arguments it supports.
constexpr arg_check quorum_checks[] = {
    {"x-expires", check_expires},
    {"x-message-ttl", check_message_ttl},
    {"x-dead-letter-routing-key", check_dead_letter_routing_key},
    {"x-dead-letter-strategy", check_dead_letter_strategy},
    {"x-max-length", check_length},
    {"x-max-length-bytes", check_length},
    {"x-max-in-memory-length", check_length},
    {"x-max-in-memory-bytes", check_length},
    {"x-overflow", check_overflow},
    {"x-single-active-consumer", check_single_active},
    {"x-quorum-initial-group-size", check_group_size},
    {"x-queue-leader-locator", check_leader_locator},
};

// Arguments of the other queue types: refused, the first one in table order.
constexpr std::string_view not_classic_args[] = {"x-delivery-limit",
                                                 "x-max-in-memory-length",
                                                 "x-max-in-memory-bytes",
                                                 "x-max-age",
                                                 "x-quorum-initial-group-size",
                                                 "x-initial-cluster-size",
                                                 "x-stream-max-segment-size-bytes",
                                                 "x-queue-leader-locator",
                                                 "x-dead-letter-strategy"};
constexpr std::string_view not_quorum_args[] = {
    "x-max-priority",         "x-queue-mode",           "x-max-age",
    "x-queue-master-locator", "x-initial-cluster-size", "x-stream-max-segment-size-bytes"};

std::string queue_text(std::string_view q, std::string_view vhost) {
    return "queue '" + std::string(q) + "' in vhost '" + std::string(vhost) + "'";
}

amqp_error invalid_arg(std::string_view arg, std::string_view q, std::string_view vhost,
                       std::string_view why) {
    return make_error(reply_code::precondition_failed, "invalid arg '" + std::string(arg) +
                                                           "' for " + queue_text(q, vhost) + ": " +
                                                           std::string(why));
}

enum class queue_kind { classic, quorum, stream, unsupported };

queue_kind kind_of(const field_table& args) {
    const auto* v = args.find("x-queue-type");
    if (!v) return queue_kind::classic;
    if (!is_string(*v)) return queue_kind::unsupported;
    const auto& t = *v->as_string();
    if (t == "classic") return queue_kind::classic;
    if (t == "quorum") return queue_kind::quorum;
    if (t == "stream") return queue_kind::stream;
    return queue_kind::unsupported;
}

result<void> check_queue_type(const field_table& args, std::string_view q, std::string_view vhost) {
    const auto* v = args.find("x-queue-type");
    if (!v) return {};
    if (!is_string(*v)) return invalid_arg("x-queue-type", q, vhost, *unacceptable_type(*v));
    if (kind_of(args) == queue_kind::unsupported) {
        return invalid_arg("x-queue-type", q, vhost,
                           "\"unsupported queue type '" + *v->as_string() + "'\"");
    }
    return {};
}

result<void> run_checks(std::span<const arg_check> checks, const field_table& args,
                        std::string_view q, std::string_view vhost) {
    for (const auto& c : checks) {
        const auto* v = args.find(c.name);
        if (!v) continue;
        if (auto why = c.check(*v, args)) return invalid_arg(c.name, q, vhost, *why);
    }
    return {};
}

result<void> refuse_other_type_args(std::span<const std::string_view> refused,
                                    std::string_view type, const field_table& args,
                                    std::string_view q, std::string_view vhost) {
    for (const auto& e : args.entries) {
        if (std::find(refused.begin(), refused.end(), e.name) == refused.end()) continue;
        return make_error(reply_code::precondition_failed,
                          "invalid arg '" + e.name + "' for " + queue_text(q, vhost) +
                              " of queue type " + std::string(type));
    }
    return {};
}

amqp_error invalid_property(std::string_view what, std::string_view q, std::string_view vhost) {
    return make_error(reply_code::precondition_failed,
                      "invalid property '" + std::string(what) + "' for " + queue_text(q, vhost));
}

// A quorum queue after its argument checks: auto-delete, then exclusive, then durable.
result<void> check_quorum_properties(const queue_declare_flags& f, std::string_view q,
                                     std::string_view vhost) {
    if (f.auto_delete) return invalid_property("auto-delete", q, vhost);
    if (f.exclusive) return invalid_property("exclusive-owner", q, vhost);
    if (!f.durable) return invalid_property("non-durable", q, vhost);
    return {};
}

}  // namespace

result<void> validate_queue_arguments(const field_table& args, std::string_view q,
                                      std::string_view vhost, const queue_declare_flags& f) {
    const auto kind = kind_of(args);
    if (f.server_named && kind != queue_kind::classic) {
        // An unknown type makes RabbitMQ's channel crash (connection closed without detail).
        if (kind == queue_kind::unsupported)
            return amqp_error{reply_code::internal_error, "INTERNAL_ERROR"};
        return make_error(
            reply_code::precondition_failed,
            std::string("Cannot declare a server-named queue for type ") +
                (kind == queue_kind::quorum ? "rabbit_quorum_queue" : "rabbit_stream_queue"));
    }
    if (const auto* v = args.find("x-dead-letter-exchange"); v && !is_string(*v)) {
        return make_error(reply_code::precondition_failed,
                          "invalid type '" + std::string(type_name(*v)) +
                              "' for arg 'x-dead-letter-exchange' in " + queue_text(q, vhost));
    }
    if (auto r = check_queue_type(args, q, vhost); !r) return r;
    if (kind == queue_kind::quorum) {
        if (auto r = run_checks(quorum_checks, args, q, vhost); !r) return r;
        if (auto r = refuse_other_type_args(not_quorum_args, "rabbit_quorum_queue", args, q, vhost);
            !r)
            return r;
        return check_quorum_properties(f, q, vhost);
    }
    if (kind == queue_kind::stream && !f.durable) return invalid_property("non-durable", q, vhost);
    if (auto r = run_checks(common_checks, args, q, vhost); !r) return r;
    if (const auto* v = args.find("x-queue-master-locator")) {
        const auto* s = is_string(*v) ? v->as_string() : nullptr;
        if (!s || (*s != "min-masters" && *s != "client-local" && *s != "random")) {
            // RabbitMQ's channel crashes here: the connection is closed, without detail.
            return amqp_error{reply_code::internal_error, "INTERNAL_ERROR"};
        }
    }
    return refuse_other_type_args(not_classic_args, "rabbit_classic_queue", args, q, vhost);
}

result<std::int64_t> parse_expiration(std::string_view value) {
    // Erlang's string:to_integer: optional sign, ASCII digits, then nothing else.
    auto fail = [&](std::string_view why) {
        return make_error(reply_code::precondition_failed,
                          "invalid expiration '" + std::string(value) + "': " + std::string(why));
    };
    std::size_t i = 0;
    bool negative = false;
    if (i < value.size() && (value[i] == '+' || value[i] == '-')) negative = value[i++] == '-';
    const std::size_t digits_start = i;
    while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
    if (i == digits_start) return fail("no_integer");
    if (i != value.size())
        return fail("{leftover_string,\"" + std::string(value.substr(i)) + "\"}");
    auto digits = value.substr(digits_start, i - digits_start);
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    const bool zero = digits == "0";
    if (negative && !zero) return fail("{value_negative,-" + std::string(digits) + "}");
    if (digits.size() > 12) return fail("{value_too_large," + std::string(digits) + "}");
    const auto n = std::stoll(std::string(digits));
    if (n > max_ttl_ms) return fail("{value_too_large," + std::string(digits) + "}");
    return n;
}

}  // namespace detail

std::optional<std::int64_t> parse_expiration_ms(std::string_view value) {
    auto r = detail::parse_expiration(value);
    if (!r) return std::nullopt;
    return *r;
}

queue_limits parse_queue_limits(const protocol::field_table& args) {
    queue_limits l;
    auto integer = [&](std::string_view key) -> std::optional<std::int64_t> {
        const auto* v = args.find(key);
        auto i = v ? v->as_integer() : std::nullopt;
        if (i && *i < 0) return std::nullopt;
        return i;
    };
    auto string = [&](std::string_view key) -> std::optional<std::string> {
        const auto* v = args.find(key);
        if (!v || v->type_tag() != 'S') return std::nullopt;
        return *v->as_string();
    };
    l.message_ttl = integer("x-message-ttl");
    l.expires = integer("x-expires");
    if (l.expires && *l.expires == 0) l.expires.reset();
    l.dead_letter_exchange = string("x-dead-letter-exchange");
    if (l.dead_letter_exchange) l.dead_letter_routing_key = string("x-dead-letter-routing-key");
    if (auto n = integer("x-max-length")) l.max_length = static_cast<std::uint64_t>(*n);
    if (auto n = integer("x-max-length-bytes")) l.max_length_bytes = static_cast<std::uint64_t>(*n);
    if (auto o = string("x-overflow")) {
        if (*o == "reject-publish") l.overflow = overflow_mode::reject_publish;
        if (*o == "reject-publish-dlx") l.overflow = overflow_mode::reject_publish_dlx;
    }
    const auto type = string("x-queue-type");
    l.quorum = type && *type == "quorum";
    if (!l.quorum) return l;
    // RabbitMQ 3.10's quorum queues do not implement reject-publish-dlx: it drops the head.
    if (l.overflow == overflow_mode::reject_publish_dlx) l.overflow = overflow_mode::drop_head;
    if (const auto* v = args.find("x-delivery-limit")) {
        if (auto i = v->as_integer()) {
            l.delivery_limit = *i;
        } else if (const auto* d = v->get_if<double>()) {
            l.delivery_limit = static_cast<std::int64_t>(std::floor(*d));
        } else if (const auto* f = v->get_if<float>()) {
            l.delivery_limit = static_cast<std::int64_t>(std::floor(*f));
        }
    }
    return l;
}

}  // namespace warren::broker
