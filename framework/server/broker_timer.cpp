#include <warren/broker/broker.hpp>
#include <warren/server/broker_timer.hpp>

#include <boost/asio/steady_timer.hpp>

namespace warren::server {

namespace asio = boost::asio;

// No wait is pending while the broker has no deadline, so that an io_context with nothing
// else to do (an embedded broker's) can return from run().
struct broker_timer::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, broker::broker& b) : timer(std::move(ex)), brk(b) {}
    asio::steady_timer timer;
    broker::broker& brk;
    bool stopped = false;
    broker::time_point armed = broker::never;
    std::uint64_t generation = 0;  // identifies the current wait; re-arming supersedes it

    void arm(broker::time_point t) {
        if (stopped) return;
        if (t == broker::never) {
            if (armed != broker::never) {
                armed = broker::never;
                ++generation;
                timer.cancel();
            }
            return;
        }
        if (t >= armed) return;  // the pending wait comes first anyway
        armed = t;
        const auto gen = ++generation;
        timer.expires_at(t);
        std::weak_ptr<impl> weak = shared_from_this();
        timer.async_wait([weak, gen](const boost::system::error_code&) {
            auto self = weak.lock();
            if (!self || self->stopped || gen != self->generation) return;
            self->armed = broker::never;
            self->arm(self->brk.tick(self->brk.now()));
            self->brk.flush_events();  // what the tick raised (expiries, consumer timeouts)
        });
    }
};

broker_timer::broker_timer(asio::any_io_executor ex, broker::broker& b)
    : impl_(std::make_shared<impl>(std::move(ex), b)) {}

broker_timer::~broker_timer() { stop(); }

void broker_timer::start() {
    std::weak_ptr<impl> weak = impl_;
    impl_->brk.set_wakeup([weak](broker::time_point t) {
        if (auto i = weak.lock()) i->arm(t);
    });
    impl_->arm(impl_->brk.tick(impl_->brk.now()));
    impl_->brk.flush_events();
}

void broker_timer::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    impl_->brk.set_wakeup(nullptr);
    impl_->timer.cancel();
}

}  // namespace warren::server
