#include <warren/common/log.hpp>
#include <warren/service/offload.hpp>
#include <warren/service/shutdown.hpp>

#include <algorithm>
#include <csignal>
#include <string>
#include <thread>

namespace warren {

graceful_shutdown::graceful_shutdown(boost::asio::io_context& io) : signals_(io, SIGINT, SIGTERM) {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        signal_ = sig;
        log(log_level::info,
            std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
        fire();
    });
}

graceful_shutdown::~graceful_shutdown() {
    boost::system::error_code ec;
    signals_.cancel(ec);
}

void graceful_shutdown::on_shutdown(std::function<void()> f) {
    if (requested_) {
        f();
        return;
    }
    callbacks_.push_back(std::move(f));
}

void graceful_shutdown::request() { fire(); }

void graceful_shutdown::fire() {
    if (requested_) return;
    requested_ = true;
    auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    for (auto& f : callbacks) f();
}

boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(std::max(2u, std::thread::hardware_concurrency()));
    return pool;
}

}  // namespace warren
