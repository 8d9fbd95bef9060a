#include <warren/service/message_context.hpp>

namespace warren {

const field_value* message_context::header(std::string_view name) const noexcept {
    const auto& h = delivery_.properties().headers;
    return h ? h->find(name) : nullptr;
}

void message_context::propagate_into(basic_properties& props) const {
    const auto& in = delivery_.properties().headers;
    if (!in || propagate_->empty()) return;
    for (const auto& name : *propagate_) {
        const auto* v = in->find(name);
        if (!v) continue;
        auto& out = props.headers ? *props.headers : props.headers.emplace();
        if (!out.find(name)) out.add(name, *v);
    }
}

boost::asio::awaitable<void> message_context::publish(std::string exchange, std::string routing_key,
                                                      std::string body, basic_properties properties,
                                                      publish_options options) {
    propagate_into(properties);
    return out_->publish(std::move(exchange), std::move(routing_key), std::move(body),
                         std::move(properties), options);
}

}  // namespace warren
