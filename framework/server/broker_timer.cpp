#include <warren/broker/broker.hpp>
#include <warren/server/broker_timer.hpp>
#include <warren/server/log.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace warren::server {

namespace asio = boost::asio;

struct broker_timer::impl {
    impl(asio::any_io_executor ex, broker::broker& b) : timer(std::move(ex)), brk(b) {}
    asio::steady_timer timer;
    broker::broker& brk;
    bool stopped = false;

    static asio::awaitable<void> run(std::shared_ptr<impl> self);
};

// `self` keeps the timer alive; the broker is only touched while not stopped.
asio::awaitable<void> broker_timer::impl::run(std::shared_ptr<impl> self) {
    constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
    self->timer.expires_at(self->brk.tick(self->brk.now()));
    for (;;) {
        // A wake-up re-arms the timer, which completes this wait with operation_aborted:
        // either way, tick and wait for the deadline it returns.
        (void)co_await self->timer.async_wait(use_nothrow);
        if (self->stopped) co_return;
        self->timer.expires_at(self->brk.tick(self->brk.now()));
    }
}

broker_timer::broker_timer(asio::any_io_executor ex, broker::broker& b)
    : impl_(std::make_shared<impl>(std::move(ex), b)) {}

broker_timer::~broker_timer() { stop(); }

void broker_timer::start() {
    std::weak_ptr<impl> weak = impl_;
    impl_->brk.set_wakeup([weak](broker::time_point t) {
        auto i = weak.lock();
        if (i && !i->stopped && t < i->timer.expiry()) i->timer.expires_at(t);
    });
    asio::co_spawn(impl_->timer.get_executor(), impl::run(impl_), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log(log_level::error, std::string("broker timer failed: ") + ex.what());
        }
    });
}

void broker_timer::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    impl_->brk.set_wakeup(nullptr);
    impl_->timer.cancel();
}

}  // namespace warren::server
