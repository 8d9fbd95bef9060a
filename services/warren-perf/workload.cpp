// warren-perf's producers and consumers, on Warren's client API.
#include "workload.hpp"

#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/consumer.hpp>
#include <warren/client/delivery.hpp>
#include <warren/client/error.hpp>
#include <warren/embedded.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace warren::perf {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
            .count());
}

namespace {

struct env {
    const options& o;
    counters& c;
    std::vector<std::string> queues;
    std::string exchange;
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    clock_type::time_point setup_deadline;
    std::atomic<std::int64_t> stop_at_ns{0};    // set when the run starts
    warren::embedded_broker* broker = nullptr;  // --embedded
};

/// A connection to the broker under test: the embedded one, or --uri.
asio::awaitable<warren::connection> open_connection(env& e, asio::io_context& io) {
    return warren::connect(io, e.broker != nullptr ? e.broker->uri() : e.o.uri);
}

std::string routing_key(const env& e, std::size_t q) {
    switch (e.o.exchange) {
        case exchange_kind::direct:
            return e.queues[q];
        case exchange_kind::fanout:
            return {};
        case exchange_kind::topic:
            return e.queues[q] + ".perf";
    }
    return {};
}

/// The queues worker `index` of `count` uses: q % min(count, queues) == index % min(count, queues).
std::vector<std::size_t> queues_for(int index, int count, std::size_t queues) {
    const auto groups = std::min<std::size_t>(static_cast<std::size_t>(count), queues);
    std::vector<std::size_t> out;
    for (std::size_t q = static_cast<std::size_t>(index) % groups; q < queues; q += groups)
        out.push_back(q);
    return out;
}

void report(const char* what, int index, const std::exception& ex) {
    std::fprintf(stderr, "warren-perf: %s %d: %s\n", what, index, ex.what());
}

/// Completion handler for spawned tasks: they catch their own exceptions; log anything else.
struct log_exception {
    void operator()(const std::exception_ptr& p) const {
        if (!p) return;
        try {
            std::rethrow_exception(p);
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "warren-perf: task failed: %s\n", ex.what());
        }
    }
};

asio::awaitable<void> sleep_for(clock_type::duration d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

/// Waits (polling, bounded by the setup deadline) until the run starts; false if it never did.
asio::awaitable<bool> wait_for_go(env& e) {
    while (!e.go.load() && !e.stop.load()) {
        if (clock_type::now() > e.setup_deadline) co_return false;
        co_await sleep_for(std::chrono::milliseconds(1));
    }
    co_return !e.stop.load();
}

bool past_deadline(const env& e) {
    return e.stop.load(std::memory_order_relaxed) ||
           static_cast<std::int64_t>(now_ns()) >= e.stop_at_ns.load(std::memory_order_relaxed);
}

asio::awaitable<void> setup(env& e, asio::io_context& io) {
    auto conn = co_await open_connection(e, io);
    auto ch = co_await conn.open_channel();
    const auto type = e.o.exchange == exchange_kind::fanout  ? warren::exchange_type::fanout
                      : e.o.exchange == exchange_kind::topic ? warren::exchange_type::topic
                                                             : warren::exchange_type::direct;
    co_await ch.declare_exchange(e.exchange, type);
    for (std::size_t q = 0; q < e.queues.size(); ++q) {
        co_await ch.declare_queue(e.queues[q], {.durable = e.o.persistent});
        const std::string key =
            e.o.exchange == exchange_kind::topic ? e.queues[q] + ".#" : routing_key(e, q);
        co_await ch.bind_queue(e.queues[q], e.exchange, key);
    }
    co_await conn.close();
}

asio::awaitable<void> teardown(env& e, asio::io_context& io) {
    auto conn = co_await open_connection(e, io);
    auto ch = co_await conn.open_channel();
    for (const auto& q : e.queues) co_await ch.delete_queue(q);
    co_await ch.delete_exchange(e.exchange);
    co_await conn.close();
}

asio::awaitable<void> producer(env& e, asio::io_context& io, int index) {
    try {
        auto conn = co_await open_connection(e, io);
        auto ch = co_await conn.open_channel(
            {.confirms = e.o.confirm > 0, .max_unconfirmed = e.o.confirm});
        const auto mine = queues_for(index, e.o.producers, e.queues.size());
        std::vector<std::string> keys;
        for (auto q : mine) keys.push_back(routing_key(e, q));
        ++e.c.ready;
        if (!co_await wait_for_go(e)) co_return;
        publish_options po{.persistent = e.o.persistent};
        std::string body(e.o.size, 'x');
        const auto start = clock_type::now();
        std::uint64_t sent = 0, confirmed = 0;
        asio::steady_timer pace(co_await asio::this_coro::executor);
        while (!past_deadline(e) && (e.o.count == 0 || sent < e.o.count)) {
            if (e.o.rate > 0) {
                pace.expires_at(start + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(
                                                static_cast<double>(sent) / e.o.rate)));
                co_await pace.async_wait(asio::use_awaitable);
                if (past_deadline(e)) break;
            }
            if (body.size() >= 8) {
                const auto t = now_ns();
                std::memcpy(body.data(), &t, sizeof t);
            }
            const auto& key = keys[sent % keys.size()];
            if (e.o.confirm > 0) {
                (void)co_await ch.start_publish(e.exchange, key, body, po);
            } else {
                co_await ch.publish(e.exchange, key, body, po);
            }
            ++sent;
            e.c.sent.fetch_add(1, std::memory_order_relaxed);
            // publish() may complete without suspending: let consumers on this thread run.
            if (sent % 64 == 0)
                co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
            if (e.o.confirm > 0) {
                const auto now_confirmed = sent - ch.unconfirmed();
                e.c.confirmed.fetch_add(now_confirmed - confirmed, std::memory_order_relaxed);
                confirmed = now_confirmed;
            }
        }
        if (e.o.confirm > 0) {
            co_await ch.wait_for_confirms();
            e.c.confirmed.fetch_add(sent - confirmed, std::memory_order_relaxed);
        }
        ++e.c.producers_done;
        co_await conn.close();
    } catch (const std::exception& ex) {
        if (!past_deadline(e)) {
            report("producer", index, ex);
            ++e.c.failures;
        }
    }
}

asio::awaitable<void> consume_stream(env& e, warren::consumer stream, bool alone) {
    const bool measure = e.o.rate > 0 && e.o.size >= 8;
    std::uint32_t unacked = 0;
    try {
        while (auto d = co_await stream.next()) {
            e.c.received.fetch_add(1, std::memory_order_relaxed);
            if (measure && d->body().size() >= 8) {
                std::uint64_t t = 0;
                std::memcpy(&t, d->body().data(), sizeof t);
                const auto now = now_ns();
                e.c.latency.record(now > t ? now - t : 0);
            }
            if (e.o.auto_ack) continue;
            // multiple=true would also settle other streams' deliveries on a shared channel
            // (--stream-per-queue).
            if (!alone) {
                co_await d->ack();
            } else if (++unacked >= e.o.multi_ack) {
                co_await d->ack(e.o.multi_ack > 1 ? warren::multiple::yes : warren::multiple::no);
                unacked = 0;
            }
        }
    } catch (const std::exception& ex) {
        if (!past_deadline(e)) {
            report("consumer", 0, ex);
            ++e.c.failures;
        }
    }
}

asio::awaitable<void> close_at_end(env& e, std::shared_ptr<warren::connection> conn) {
    // Bounded: the run's deadline plus the setup allowance.
    while (!past_deadline(e) && clock_type::now() < e.setup_deadline + std::chrono::hours(2)) {
        co_await sleep_for(std::chrono::milliseconds(20));
    }
    try {
        co_await conn->close();
    } catch (const std::exception&) {
        // already closed by the broker or the network: nothing left to do
    }
}

asio::awaitable<void> consumer(env& e, asio::io_context& io, int index) {
    try {
        auto conn = std::make_shared<warren::connection>(co_await open_connection(e, io));
        auto ch = co_await conn->open_channel();
        if (!e.o.auto_ack && e.o.prefetch > 0) co_await ch.set_prefetch(e.o.prefetch);
        const auto mine = queues_for(index, e.o.consumers, e.queues.size());
        if (e.o.stream_per_queue) {
            for (auto q : mine) {
                auto stream = co_await ch.consume(e.queues[q], {.no_ack = e.o.auto_ack});
                asio::co_spawn(io, consume_stream(e, std::move(stream), mine.size() == 1),
                               log_exception{});
            }
        } else {
            // One stream for all of this connection's queues, as PerfTest's one Consumer
            // registered on each of its queues.
            std::vector<std::string> names;
            names.reserve(mine.size());
            for (auto q : mine) names.push_back(e.queues[q]);
            auto stream = co_await ch.consume_many(std::move(names), {.no_ack = e.o.auto_ack});
            asio::co_spawn(io, consume_stream(e, std::move(stream), true), log_exception{});
        }
        ++e.c.ready;
        asio::co_spawn(io, close_at_end(e, conn), log_exception{});
    } catch (const std::exception& ex) {
        report("consumer", index, ex);
        ++e.c.failures;
    }
}

bool run_one(asio::io_context& io, asio::awaitable<void> task, const char* what) {
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(io, std::move(task), [&failure, &done](std::exception_ptr p) {
        failure = std::move(p);
        done = true;
    });
    io.run_for(std::chrono::minutes(5));
    io.restart();
    if (!done) {
        std::fprintf(stderr, "warren-perf: %s timed out\n", what);
        return false;
    }
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "warren-perf: %s failed: %s\n", what, ex.what());
        }
        return false;
    }
    return true;
}

}  // namespace

bool run(const options& o, counters& c, void (*tick)(const options&, counters&, double, void*),
         void* ctx) {
    env e{.o = o,
          .c = c,
          .queues = {},
          .exchange = {},
          .go = {},
          .stop = {},
          .setup_deadline = {},
          .stop_at_ns = {}};
    const auto tag = o.prefix + "-" + std::to_string(::getpid());
    for (int q = 0; q < o.queues; ++q) e.queues.push_back(tag + "-" + std::to_string(q));
    e.exchange = tag + (o.exchange == exchange_kind::fanout  ? "-fanout"
                        : o.exchange == exchange_kind::topic ? "-topic"
                                                             : "-direct");
    e.setup_deadline = clock_type::now() + std::chrono::seconds(60);
    e.stop_at_ns = std::numeric_limits<std::int64_t>::max();

    std::vector<std::unique_ptr<asio::io_context>> ios;
    const int io_count = o.embedded ? 1 : std::max(1, o.threads);
    for (int i = 0; i < io_count; ++i) ios.push_back(std::make_unique<asio::io_context>(1));
    std::unique_ptr<warren::embedded_broker> broker;
    if (o.embedded) {
        broker = std::make_unique<warren::embedded_broker>(*ios[0]);
        e.broker = broker.get();
    }
    if (!run_one(*ios[0], setup(e, *ios[0]), "setup")) return false;

    const auto n = ios.size();
    for (int i = 0; i < o.consumers; ++i) {
        auto& io = *ios[static_cast<std::size_t>(i) % n];
        asio::co_spawn(io, consumer(e, io, i), log_exception{});
    }
    for (int i = 0; i < o.producers; ++i) {
        auto& io = *ios[static_cast<std::size_t>(o.consumers + i) % n];
        asio::co_spawn(io, producer(e, io, i), log_exception{});
    }
    std::vector<std::thread> threads;
    for (auto& io : ios) threads.emplace_back([&io] { io->run(); });

    // Start once every worker is set up (or failed), then run for the duration.
    while (c.ready.load() + c.failures.load() < o.producers + o.consumers &&
           clock_type::now() < e.setup_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const auto start = clock_type::now();
    const auto stop = start + std::chrono::duration_cast<clock_type::duration>(o.duration);
    e.stop_at_ns = static_cast<std::int64_t>(now_ns()) +
                   std::chrono::duration_cast<std::chrono::nanoseconds>(o.duration).count();
    e.go = true;
    auto next = start + std::chrono::seconds(1);
    // A consumer-less run with a message count ends when the producers are done.
    auto finished = [&] {
        return o.consumers == 0 && o.count > 0 && c.producers_done.load() == o.producers;
    };
    while (clock_type::now() < stop && c.failures.load() == 0 && !finished()) {
        std::this_thread::sleep_until(std::min(next, stop));
        const auto now = clock_type::now();
        if (now >= next || now >= stop || finished()) {
            tick(o, c, std::chrono::duration<double>(now - start).count(), ctx);
            next += std::chrono::seconds(1);
        }
    }
    e.stop = true;
    // Connections close at the deadline; should one hang, stop its io_context after 15 s.
    const auto give_up = clock_type::now() + std::chrono::seconds(15);
    while (clock_type::now() < give_up) {
        bool all_stopped = true;
        for (auto& io : ios) all_stopped = all_stopped && io->stopped();
        if (all_stopped) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& io : ios) {
        if (!io->stopped()) {
            std::fprintf(stderr, "warren-perf: connections did not close in time; stopping\n");
            io->stop();
        }
    }
    for (auto& t : threads) t.join();
    ios[0]->restart();
    run_one(*ios[0], teardown(e, *ios[0]), "cleanup");
    return true;
}

}  // namespace warren::perf
