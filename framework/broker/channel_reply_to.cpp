// channel: direct reply-to (amq.rabbitmq.reply-to) and the validation of consumer arguments.
#include "arguments.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>

#include <array>

namespace warren::broker {

namespace {

// Standard base64 (RabbitMQ encodes both parts of a reply-to name with it).
std::string base64(const unsigned char* data, std::size_t n) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string s;
    s.reserve((n + 2) / 3 * 4);
    for (std::size_t i = 0; i < n; i += 3) {
        const std::uint32_t b0 = data[i];
        const std::uint32_t b1 = i + 1 < n ? data[i + 1] : 0;
        const std::uint32_t b2 = i + 2 < n ? data[i + 2] : 0;
        const std::uint32_t v = (b0 << 16) | (b1 << 8) | b2;
        s.push_back(alphabet[(v >> 18) & 0x3F]);
        s.push_back(alphabet[(v >> 12) & 0x3F]);
        s.push_back(i + 1 < n ? alphabet[(v >> 6) & 0x3F] : '=');
        s.push_back(i + 2 < n ? alphabet[v & 0x3F] : '=');
    }
    return s;
}

template <std::size_t N>
std::string random_base64(std::mt19937_64& rng) {
    std::array<unsigned char, N> bytes{};
    for (std::size_t i = 0; i < N; i += 8) {
        auto v = rng();
        for (std::size_t j = 0; j < 8 && i + j < N; ++j)
            bytes[i + j] = static_cast<unsigned char>(v >> (8 * j));
    }
    return base64(bytes.data(), bytes.size());
}

std::string invalid_arg(std::string_view arg, std::string_view queue, const vhost& vh) {
    return "invalid arg '" + std::string(arg) + "' for queue '" + std::string(queue) +
           "' in vhost '" + vh.name() + "'";
}

}  // namespace

result<std::int64_t> channel::consumer_priority(const protocol::field_table& args,
                                                std::string_view queue_name) const {
    // RabbitMQ 3.10 checks x-priority (any integer type), x-cancel-on-ha-failover (bool), then
    // the arguments that only stream queues accept.
    std::int64_t priority = 0;
    if (const auto* v = args.find("x-priority")) {
        auto n = v->as_integer();
        if (!n) {
            return make_error(reply_code::precondition_failed,
                              invalid_arg("x-priority", queue_name, conn_.host()) +
                                  ": \"expected integer, got " +
                                  std::string(detail::type_name(*v)) + "\"");
        }
        priority = *n;
    }
    if (const auto* v = args.find("x-cancel-on-ha-failover"); v && !v->get_if<bool>()) {
        return make_error(reply_code::precondition_failed,
                          invalid_arg("x-cancel-on-ha-failover", queue_name, conn_.host()) +
                              ": {unacceptable_type," + std::string(detail::type_name(*v)) + "}");
    }
    if (args.find("x-stream-offset")) {
        return make_error(reply_code::precondition_failed,
                          invalid_arg("x-stream-offset", queue_name, conn_.host()) +
                              " of queue type rabbit_classic_queue");
    }
    return priority;
}

result<std::string> channel::consume_reply_to(const protocol::basic_consume& m) {
    if (reply_consumer_)
        return make_error(reply_code::precondition_failed, "reply consumer already set");
    if (!m.no_ack)
        return make_error(reply_code::precondition_failed, "reply consumer cannot acknowledge");
    std::string tag =
        m.consumer_tag.empty() ? conn_.host().generate_name("amq.ctag") : m.consumer_tag;
    if (by_tag_.contains(tag)) {
        return make_error(reply_code::not_allowed, "attempt to reuse consumer tag '" + tag + "'");
    }
    auto& rng = conn_.host().owner().rng();
    // The first part names the channel (kept for its lifetime), the second this consumer.
    if (reply_channel_key_.empty()) reply_channel_key_ = random_base64<30>(rng);
    reply_to_name_ =
        std::string(reply_to_queue) + "." + reply_channel_key_ + "." + random_base64<16>(rng);
    conn_.host().register_reply_to(reply_to_name_, *this);
    auto c = std::make_unique<consumer>();
    c->tag = tag;
    c->ch = this;
    c->no_ack = true;
    c->exclusive = m.exclusive;
    reply_consumer_ = std::move(c);
    return tag;
}

bool channel::cancel_reply_to(std::string_view tag) {
    if (!reply_consumer_ || reply_consumer_->tag != tag) return false;
    conn_.host().unregister_reply_to(reply_to_name_);
    reply_to_name_.clear();
    conn_.retire(std::move(reply_consumer_));  // kept until the events naming it are handed out
    return true;
}

result<void> channel::set_fast_reply_to(message& msg) {
    auto& rt = msg.properties.reply_to;
    if (!rt || *rt != reply_to_queue) return {};
    if (!reply_consumer_) {
        return make_error(reply_code::precondition_failed, "fast reply consumer does not exist");
    }
    rt = reply_to_name_;
    msg.encoded_properties.clear();
    protocol::encode_properties(msg.properties, msg.encoded_properties);
    return {};
}

void channel::publish_reply(const protocol::basic_publish& m, const message_ptr& msg) {
    if (auto* ch = conn_.host().find_reply_to(m.routing_key)) ch->deliver_reply(msg);
    // RabbitMQ 3.10 returns a mandatory reply even when it was delivered.
    if (m.mandatory) conn_.post<events::returned>(id_, reply_code::no_route, "NO_ROUTE", msg);
}

void channel::deliver_reply(const message_ptr& m) {
    if (!reply_consumer_ || closed_) return;
    conn_.post_delivery(id_, *reply_consumer_, next_delivery_tag_++, false, m);
}

}  // namespace warren::broker
