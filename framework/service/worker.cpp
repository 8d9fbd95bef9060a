#include "worker_core.hpp"

namespace warren {

worker::worker(connection& conn, worker_options options)
    : core_(std::make_shared<detail::worker_core>(conn, std::move(options))) {}

worker::~worker() = default;

boost::asio::awaitable<void> worker::run_handler(handler h) {
    return detail::worker_core::run(core_, std::move(h), {});
}

boost::asio::awaitable<void> worker::run_plain_handler(
    std::function<boost::asio::awaitable<void>(message_context&)> h) {
    return detail::worker_core::run(core_, {}, std::move(h));
}

void worker::stop() { core_->stop(); }
bool worker::stopping() const noexcept { return core_->stopping(); }
worker_stats worker::stats() const noexcept { return core_->stats(); }
const worker_options& worker::options() const noexcept { return core_->options(); }

}  // namespace warren
