// The worker: lanes reading in turn, settling (ack, retry through the broker, dead-lettering) and
// the graceful drain.
#include "worker_core.hpp"

#include <warren/client/error.hpp>
#include <warren/common/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <stdexcept>

namespace warren::detail {

namespace asio = boost::asio;

namespace {

// A lane takes at most this many buffered deliveries in a row before it waits in next().
constexpr unsigned yield_every = 32;

// Error texts become header values: keep them to a readable size.
constexpr std::size_t max_reason = 4096;

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

unsigned attempts_made(const basic_properties& p) {
    if (!p.headers) return 0;
    const auto* v = p.headers->find("x-attempts");
    const auto n = v ? v->as_integer() : std::nullopt;
    return n && *n > 0 ? static_cast<unsigned>(std::min<std::int64_t>(*n, 1'000'000)) : 0;
}

field_table& headers_of(basic_properties& p) {
    return p.headers ? *p.headers : p.headers.emplace();
}

handler build_chain(handler h, const std::vector<middleware>& mws) {
    for (auto it = mws.rbegin(); it != mws.rend(); ++it) {
        h = [mw = *it, next = std::move(h)](message_context& m) { return mw(m, next); };
    }
    return h;
}

}  // namespace

worker_core::worker_core(connection& conn, worker_options o) : conn_(conn), opts_(std::move(o)) {
    if (opts_.queues.empty()) throw std::invalid_argument("warren::worker: no queue to consume");
    if (opts_.prefetch == 0)
        throw std::invalid_argument("warren::worker: prefetch must be at least 1");
    if (opts_.concurrency == 0) opts_.concurrency = opts_.prefetch;
    if (opts_.concurrency > opts_.prefetch) {
        throw std::invalid_argument("warren::worker: concurrency (" +
                                    std::to_string(opts_.concurrency) + ") above prefetch (" +
                                    std::to_string(opts_.prefetch) +
                                    "): the extra handlers would never get a message");
    }
    for (const auto& q : opts_.queues) {
        if (q.empty()) throw std::invalid_argument("warren::worker: a queue name is empty");
    }
}

void worker_core::stop() {
    if (stopping_) return;
    stopping_ = true;
    if (!started_ || !stream_) return;
    // No new deliveries: basic.cancel. A lane gives back what was already buffered.
    if (lanes_changed_) lanes_changed_->notify();
    for (auto* l : idle_) l->wake.notify();
    asio::co_spawn(
        ex_,
        [](std::shared_ptr<worker_core> self) -> asio::awaitable<void> {
            if (self->stream_ && self->consume_ch_ && self->consume_ch_->is_open())
                co_await self->stream_->cancel();
        }(shared_from_this()),
        [](const std::exception_ptr& e) {
            if (e) log(log_level::debug, "worker: basic.cancel at stop failed: " + what_of(e));
        });
}

asio::awaitable<void> worker_core::open() {
    consume_ch_.emplace(co_await conn_.open_channel());
    co_await consume_ch_->set_prefetch(opts_.prefetch);
    settle_ch_.emplace(co_await conn_.open_channel({.confirms = true}));
    std::weak_ptr<worker_core> weak = shared_from_this();
    settle_ch_->set_return_handler([weak](const returned_message&) {
        if (auto self = weak.lock()) self->returned_ = true;
    });
    output_ch_.emplace(co_await conn_.open_channel({.confirms = true}));
    output_ch_->set_return_handler([](const returned_message& r) {
        // A mandatory output no queue took. The broker dropped it: say so loudly.
        log(log_level::error, "worker: an output to exchange '" + r.exchange +
                                  "' with routing key '" + r.routing_key +
                                  "' was returned by the broker: " + r.reply_text +
                                  " (declare its queue)");
    });
    if (opts_.declare_topology) co_await declare_topology();
    if (opts_.queues.size() == 1) {
        stream_.emplace(co_await consume_ch_->consume(opts_.queues.front()));
        queue_of_tag_[stream_->tag()] = opts_.queues.front();
    } else {
        stream_.emplace(co_await consume_ch_->consume_many(opts_.queues));
        const auto tags = stream_->tags();
        for (std::size_t i = 0; i < tags.size() && i < opts_.queues.size(); ++i)
            queue_of_tag_[tags[i]] = opts_.queues[i];
    }
}

asio::awaitable<void> worker_core::declare_topology() {
    auto& ch = *settle_ch_;
    const auto args = [this](field_table t) {
        if (opts_.quorum) t.add("x-queue-type", "quorum");
        return t;
    };
    for (const auto& q : opts_.queues) {
        co_await ch.declare_queue(error_queue_for(q), {.durable = true}, args(field_table()));
        if (!opts_.retry.delayed()) continue;
        for (unsigned k = 1; k < opts_.retry.max_attempts(); ++k) {
            // Expired messages go back to `q` by the default exchange; the delay is each
            // message's own expiration (jittered), not a queue TTL.
            co_await ch.declare_queue(retry_queue(q, k), {.durable = true},
                                      args(field_table()
                                               .with("x-dead-letter-exchange", std::string())
                                               .with("x-dead-letter-routing-key", q)));
        }
    }
}

asio::awaitable<void> worker_core::run(std::shared_ptr<worker_core> self, handler h,
                                       plain_handler plain) {
    if (self->started_) throw std::logic_error("warren::worker::run: called twice");
    self->started_ = true;
    if (self->stopping_) co_return;
    self->ex_ = self->conn_.get_executor();
    if (plain && self->opts_.middleware.empty()) {
        self->plain_ = std::move(plain);
    } else {
        if (plain) h = detail::to_handler(std::move(plain));
        self->chain_ = build_chain(std::move(h), self->opts_.middleware);
    }
    self->lanes_changed_.emplace(self->ex_);
    self->settle_free_.emplace(self->ex_);
    co_await self->open();

    for (std::uint16_t i = 0; i < self->opts_.concurrency; ++i) {
        self->lanes_.push_back(std::make_unique<lane>(self->ex_));
        auto& l = *self->lanes_.back();
        ++self->live_lanes_;
        asio::co_spawn(
            self->ex_, lane_loop(self, l),
            asio::bind_cancellation_slot(l.cancel.slot(), [self, &l](const std::exception_ptr& e) {
                if (e) log(log_level::error, "worker: a handler lane failed: " + what_of(e));
                l.done = true;
                --self->live_lanes_;
                self->lanes_changed_->notify();
            }));
    }
    if (self->stopping_) {  // stop() came while the channels were opening
        self->stopping_ = false;
        self->stop();
    }
    co_await self->drain();
    if (self->failure_) std::rethrow_exception(self->failure_);
}

asio::awaitable<void> worker_core::lane_loop(std::shared_ptr<worker_core> self, lane& l) {
    // The drain deadline cancels a lane: the handler's pending operation fails, and the
    // settling that follows (a requeue) must still run rather than throw at its first co_await.
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
        if (self->stream_done_) break;
        if ((co_await asio::this_coro::cancellation_state).cancelled() !=
            asio::cancellation_type::none)
            break;
        // What one read brought in is taken without suspending; every `yield_every` messages
        // (and when nothing is buffered) through next() instead, whose suspension lets the
        // connection's writer send the acks so far and the broker refill the prefetch window
        // meanwhile (as consumer::next() does for a plain loop).
        std::optional<delivery> d;
        if (self->streak_ < yield_every) d = self->stream_->try_next();
        if (d) {
            ++self->streak_;
        } else if (self->reading_) {
            // Another lane waits for the next delivery: wait until it hands that role on (when
            // stopping, it gives back what is left, and this lane is done).
            if (self->stopping_) break;
            self->idle_.push_back(&l);
            co_await l.wake.wait();
            if (l.woken) {
                l.woken = false;
                --self->waking_;
            } else {
                std::erase(self->idle_, &l);  // woken by stop(), the stream's end or cancellation
            }
            continue;
        } else {
            self->streak_ = 0;
            self->reading_ = true;
            std::exception_ptr failed;
            try {
                d = co_await self->stream_->next();
            } catch (...) {
                failed = std::current_exception();
            }
            self->reading_ = false;
            if (failed || !d) {
                if (failed && self->stopping_) {
                    // Cancelled by the drain deadline, or the channel went with the stop: the
                    // broker requeues what was not acked.
                } else if (failed) {
                    if (!self->failure_) self->failure_ = failed;
                } else if (!self->stopping_) {
                    self->failure_ = std::make_exception_ptr(
                        std::runtime_error("warren::worker: the broker cancelled the consumer of " +
                                           (self->opts_.queues.size() == 1
                                                ? "queue '" + self->opts_.queues.front() + "'"
                                                : std::string("its queues")) +
                                           " (queue deleted?)"));
                }
                self->end_stream();
                break;
            }
        }
        self->counters_.on_received();
        if (self->stopping_) {
            // Stopping: what the broker had already sent goes back at once, for other workers.
            try {
                co_await d->nack(requeue::yes);
                self->counters_.on_requeued();
            } catch (const std::exception& e) {
                log(log_level::debug, std::string("worker: requeue: ") + e.what());
            }
            continue;
        }
        self->want_reader();
        co_await self->handle(std::move(*d));
    }
}

void worker_core::end_stream() {
    stream_done_ = true;
    stopping_ = true;
    for (auto* l : idle_) l->wake.notify();
    lanes_changed_->notify();
}

void worker_core::want_reader() {
    // Another lane should read on if this handler suspends. Whether it does is known only once
    // it did, so the check is posted (one at a time): it runs after this lane yielded, and
    // wakes an idle lane if nobody reads then. Handlers that return without suspending thus
    // run back to back on this lane, with one post per turn and no wake-up at all.
    if (reader_check_posted_ || idle_.empty() || waking_ != 0) return;
    reader_check_posted_ = true;
    asio::post(ex_, [self = shared_from_this()] {
        self->reader_check_posted_ = false;
        if (!self->reading_ && !self->stream_done_) self->wake_one();
    });
}

void worker_core::wake_one() {
    if (waking_ != 0 || idle_.empty()) return;
    auto* l = idle_.back();
    idle_.pop_back();
    l->woken = true;
    ++waking_;
    l->wake.notify();
}

asio::awaitable<void> worker_core::handle(delivery&& d) {
    const auto started = std::chrono::steady_clock::now();
    counters_.on_started();
    const auto attempt = attempts_made(d.properties()) + 1;
    const auto& queue = queue_of(d.consumer_tag());
    message_context ctx(std::move(d), queue, attempt, opts_.propagate_headers, *this, ex_);
    std::optional<verdict> v;
    try {
        if (plain_) {
            co_await plain_(ctx);
            v.emplace(verdict::ack());
        } else {
            v.emplace(co_await chain_(ctx));
        }
    } catch (const boost::system::system_error& e) {
        const bool cancelled = e.code() == asio::error::operation_aborted && stopping_;
        if (!cancelled) v.emplace(verdict::retry(e.what()));
    } catch (const std::exception& e) {
        v.emplace(verdict::retry(e.what()));
    } catch (...) {
        v.emplace(verdict::retry("an exception that is not a std::exception"));
    }
    if (v && v->what() == verdict::kind::ack) {
        // The common case, without settle()'s frame.
        bool acked = false;
        try {
            co_await ctx.raw().ack();
            acked = true;
            counters_.on_succeeded();
        } catch (const std::exception& e) {
            log(log_level::error,
                "worker: cannot settle a message of queue '" + ctx.queue() + "': " + e.what());
        }
        if (!acked) co_await requeue(ctx);
    } else if (v) {
        co_await settle(ctx, *v);
    } else {
        co_await requeue(ctx);  // cancelled by the drain deadline: back to the broker
    }
    counters_.on_finished(std::chrono::steady_clock::now() - started);
}

asio::awaitable<void> worker_core::settle(message_context& ctx, const verdict& v) {
    try {
        switch (v.what()) {
            case verdict::kind::ack:
                co_await ctx.raw().ack();
                counters_.on_succeeded();
                co_return;
            case verdict::kind::retry:
                counters_.on_failed();
                if (ctx.attempt() < opts_.retry.max_attempts()) {
                    co_await retry(ctx, v.reason());
                } else {
                    co_await dead_letter(ctx, v.reason());
                }
                co_return;
            case verdict::kind::dead_letter:
                counters_.on_failed();
                co_await dead_letter(ctx, v.reason());
                co_return;
        }
    } catch (const std::exception& e) {
        log(log_level::error,
            "worker: cannot settle a message of queue '" + ctx.queue() + "': " + e.what());
    }
    co_await requeue(ctx);
}

asio::awaitable<void> worker_core::retry(message_context& ctx, const std::string& reason) {
    auto p = ctx.properties();
    auto& h = headers_of(p);
    h.set("x-attempts", static_cast<std::int64_t>(ctx.attempt()));
    if (!h.find("x-original-exchange")) {
        h.set("x-original-exchange", ctx.raw().exchange());
        h.set("x-original-routing-key", ctx.raw().routing_key());
    }
    h.set("x-exception-message", reason.substr(0, max_reason));
    std::string target = ctx.queue();
    p.expiration.reset();
    if (opts_.retry.delayed()) {
        target = retry_queue(ctx.queue(), ctx.attempt());
        p.expiration = std::to_string(opts_.retry.jittered_delay(ctx.attempt(), rng_).count());
    }
    co_await republish(std::move(target), ctx.body(), std::move(p));
    co_await ctx.raw().ack();
    counters_.on_retried();
}

asio::awaitable<void> worker_core::dead_letter(message_context& ctx, const std::string& reason) {
    auto p = ctx.properties();
    auto& h = headers_of(p);
    h.set("x-exception-message", reason.substr(0, max_reason));
    h.set("x-attempts", static_cast<std::int64_t>(ctx.attempt()));
    if (!h.find("x-original-exchange")) {
        h.set("x-original-exchange", ctx.raw().exchange());
        h.set("x-original-routing-key", ctx.raw().routing_key());
    }
    p.expiration.reset();  // a dead letter must not expire in the error queue
    co_await republish(error_queue_for(ctx.queue()), ctx.body(), std::move(p));
    co_await ctx.raw().ack();
    counters_.on_dead_lettered();
}

asio::awaitable<void> worker_core::republish(std::string routing_key, std::string body,
                                             basic_properties props) {
    // One at a time, so that a basic.return (which precedes the confirm) belongs to this one.
    while (settle_busy_) co_await settle_free_->wait();
    settle_busy_ = true;
    returned_ = false;
    struct release {
        worker_core& w;
        ~release() {
            w.settle_busy_ = false;
            w.settle_free_->notify();
        }
    } guard{*this};
    co_await settle_ch_->publish("", routing_key, std::move(body), std::move(props),
                                 {.mandatory = true});
    if (returned_) {
        throw std::runtime_error("queue '" + routing_key +
                                 "' does not exist (the broker returned the message)");
    }
}

asio::awaitable<void> worker_core::requeue(message_context& ctx) {
    try {
        if (!ctx.raw().settled()) co_await ctx.raw().nack(requeue::yes);
        counters_.on_requeued();
    } catch (const std::exception& e) {
        // The channel is gone: the broker has requeued it already.
        log(log_level::debug, std::string("worker: requeue: ") + e.what());
    }
}

asio::awaitable<void> worker_core::drain() {
    // Cancelling run() is a request to stop: drain as stop() does (the waits below must not
    // throw once the coroutine is cancelled).
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer deadline(ex_);
    bool armed = false;
    bool expired = false;
    int recancels = 0;
    while (live_lanes_ != 0) {
        if (!stopping_ && (co_await asio::this_coro::cancellation_state).cancelled() !=
                              asio::cancellation_type::none) {
            stop();
        }
        if (stopping_ && !armed) {
            armed = true;
            deadline.expires_after(opts_.drain_timeout);
            deadline.async_wait(
                [self = shared_from_this(), &expired](boost::system::error_code ec) {
                    if (ec) return;
                    expired = true;
                    self->cancel_lanes();
                });
        }
        if (expired) {
            // A handler that caught its cancellation and went on waiting is cancelled again
            // every 100 ms, ten times; after that the drain stops waiting for it (the channel
            // close below requeues its message, and its lane ends whenever it returns).
            if (++recancels > 10) break;
            deadline.expires_after(std::chrono::milliseconds(100));
            deadline.async_wait([self = shared_from_this()](boost::system::error_code ec) {
                if (!ec) self->cancel_lanes();
            });
        }
        co_await lanes_changed_->wait();
    }
    deadline.cancel();
    std::optional<channel>* channels[] = {&consume_ch_, &settle_ch_, &output_ch_};
    for (auto* ch : channels) {
        try {
            if (*ch && (*ch)->is_open()) co_await (*ch)->close();  // requeues what is still unacked
        } catch (const std::exception& e) {
            log(log_level::debug, std::string("worker: closing a channel: ") + e.what());
        }
    }
}

void worker_core::cancel_lanes() {
    // Handlers still running are cancelled; their messages are requeued.
    for (auto& l : lanes_) {
        if (!l->done) l->cancel.emit(asio::cancellation_type::terminal);
    }
    lanes_changed_->notify();
}

asio::awaitable<void> worker_core::publish(std::string exchange, std::string routing_key,
                                           std::string body, basic_properties properties,
                                           publish_options options) {
    return output_ch_->publish(std::move(exchange), std::move(routing_key), std::move(body),
                               std::move(properties), options);
}

const std::string& worker_core::queue_of(const std::string& consumer_tag) const {
    if (opts_.queues.size() == 1) return opts_.queues.front();
    auto it = queue_of_tag_.find(consumer_tag);
    return it != queue_of_tag_.end() ? it->second : opts_.queues.front();
}

std::string worker_core::error_queue_for(const std::string& queue) const {
    return opts_.error_queue.empty() ? queue + ".dlq" : opts_.error_queue;
}

std::string worker_core::retry_queue(const std::string& queue, unsigned k) {
    return queue + ".retry." + std::to_string(k);
}

}  // namespace warren::detail
