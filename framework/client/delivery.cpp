#include "channel_impl.hpp"

#include <stdexcept>

namespace warren {

namespace asio = boost::asio;
namespace p = protocol;

namespace {

template <class M>
asio::awaitable<void> settle(std::shared_ptr<detail::channel_impl> ch, M m) {
    ch->send(m);
    co_return;
}

const std::shared_ptr<detail::channel_impl>& checked(const std::shared_ptr<detail::channel_impl>& ch) {
    if (!ch) throw std::logic_error("warren::delivery: not received from a channel");
    return ch;
}

}  // namespace

asio::awaitable<void> delivery::ack(bool multiple) const {
    return settle(checked(channel_), p::basic_ack{.delivery_tag = delivery_tag_, .multiple = multiple});
}

asio::awaitable<void> delivery::nack(bool requeue, bool multiple) const {
    return settle(checked(channel_),
                  p::basic_nack{.delivery_tag = delivery_tag_, .multiple = multiple, .requeue = requeue});
}

asio::awaitable<void> delivery::reject(bool requeue) const {
    return settle(checked(channel_), p::basic_reject{.delivery_tag = delivery_tag_, .requeue = requeue});
}

}  // namespace warren
