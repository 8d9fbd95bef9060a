#include <warren/broker/broker.hpp>

#include <ostream>

namespace warren::broker {

amqp_error make_error(reply_code code, std::string_view detail) {
    amqp_error e{code, {}};
    auto name = protocol::reply_code_name(code);
    e.text.reserve(name.size() + 3 + detail.size());
    e.text.append(name).append(" - ").append(detail);
    return e;
}

std::ostream& operator<<(std::ostream& os, const amqp_error& e) { return os << e.text; }

void throw_exception_from_error(const amqp_error& e, const boost::source_location&) {
    throw std::runtime_error(e.text);
}

broker::broker(broker_options options) : options_(options), rng_(std::random_device{}()) {
    add_vhost("/");
    add_user(user{.name = "guest", .password = "guest", .loopback_only = true});
}

broker::~broker() = default;

vhost* broker::find_vhost(std::string_view name) const {
    auto it = vhosts_.find(name);
    return it == vhosts_.end() ? nullptr : it->second.get();
}

vhost& broker::add_vhost(std::string name) {
    auto& slot = vhosts_[name];
    if (!slot) slot = std::make_unique<vhost>(*this, std::move(name));
    return *slot;
}

void broker::add_user(user u) {
    auto name = u.name;
    users_[std::move(name)] = std::move(u);
}

const user* broker::authenticate(std::string_view name, std::string_view password,
                                 bool peer_is_loopback) const {
    auto it = users_.find(name);
    if (it == users_.end() || it->second.password != password) return nullptr;
    if (it->second.loopback_only && !peer_is_loopback) return nullptr;
    return &it->second;
}

}  // namespace warren::broker
