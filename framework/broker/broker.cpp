#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>
#include <warren/broker/queue.hpp>

#include <algorithm>
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

broker::broker(broker_options options)
    : options_(std::move(options)),
      rng_(options_.rng_seed != 0 ? options_.rng_seed : std::random_device{}()) {
    if (!options_.clock) options_.clock = [] { return clock::now(); };
    if (!options_.wall_clock_ms) {
        options_.wall_clock_ms = [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
    }
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

void broker::schedule(time_point t) {
    if (t >= armed_) return;
    armed_ = t;
    if (!in_tick_ && wakeup_) wakeup_(t);
}

void broker::deadline_gone() {
    if (armed_ == never || in_tick_ || !wakeup_) return;
    armed_ = now();
    wakeup_(armed_);
}

void broker::flush_pending() {
    flushing_ = true;
    struct reset {
        bool& flag;
        ~reset() { flag = false; }
    } done{flushing_};
    for (;;) {
        if (!dead_letters_.empty()) route_dead_letters();
        if (pending_.empty()) return;
        handing_.swap(pending_);
        for (std::size_t i = 0; i < handing_.size(); ++i) {
            if (auto* c = std::exchange(handing_[i], nullptr)) hand_out(*c);
        }
        handing_.clear();
    }
}

void broker::route_dead_letters() {
    // Routing one may dead-letter more (a full queue dropping its head): they come in the next
    // round, not inside this one.
    while (!dead_letters_.empty()) {
        routing_.swap(dead_letters_);
        for (auto& job : routing_) job.from->route_dead_letter(job.msg, job.why);
        routing_.clear();
    }
}

void broker::hand_out(connection& c) {
    c.queued_ = false;
    // The outbox goes out; the connection gets the (empty) capacity of the last one handed out.
    std::vector<event> events;
    events.swap(events_);
    events.swap(c.outbox_);
    c.outbox_bytes_ = 0;
    // The consumers retired so far may be named by these events: they live until the sink is done.
    std::vector<std::unique_ptr<consumer>> retired;
    if (!c.retired_.empty()) retired.swap(c.retired_);
    // The sink may call into the broker, even destroy `c`: nothing of `c` is used after this.
    c.sink_.on_events(events);
    events.clear();
    events_.swap(events);
}

void broker::forget_pending(connection& c) noexcept {
    std::erase(pending_, &c);
    std::replace(handing_.begin(), handing_.end(), &c, static_cast<connection*>(nullptr));
}

time_point broker::tick(time_point now) {
    in_tick_ = true;
    armed_ = never;
    time_point next = never;
    // Queues first: expiring messages may be dead-lettered into other queues (which then
    // schedule themselves through schedule()). Copy: ticking may delete queues.
    auto queues = timed_queues_;
    std::erase_if(timed_queues_, [](const std::weak_ptr<queue>& w) {
        auto q = w.lock();
        return !q || q->deleted();
    });
    for (auto& w : queues) {
        if (auto q = w.lock(); q && !q->deleted()) next = std::min(next, q->tick(now));
    }
    // Channels (consumer_timeout): a channel that times out closes itself and stays until its
    // client's session releases it, after this call.
    for (auto* ch : timed_channels_) next = std::min(next, ch->tick(now));
    next = std::min(next, armed_);
    armed_ = next;
    in_tick_ = false;
    return next;
}

}  // namespace warren::broker
