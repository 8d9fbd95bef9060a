// RabbitMQ tutorial 7, "Publisher Confirms": three ways to know the broker took every message,
// each timed over the same number of messages (--count N, default 10,000; the tutorial's 50,000
// takes long in a debug build):
//   1. individually: publish, wait for its confirm, publish the next (simple, slow);
//   2. in batches: publish 100, wait for the 100 confirms, and so on;
//   3. asynchronously: keep up to 256 confirms outstanding (channel_options::max_unconfirmed,
//      the tutorial's ConcurrentNavigableMap of outstanding confirms) and wait at the end.
// Self-check: every publish was acked and the queue holds exactly the messages published.
// Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <chrono>
#include <cstdio>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

/// A fresh server-named queue; prints the time `publish_all` took and checks the queue's depth.
template <class Strategy>
asio::awaitable<void> measure(warren::connection& conn, const char* how, std::size_t count,
                              warren::channel_options options, Strategy publish_all) {
    auto ch = co_await conn.open_channel(options);
    auto q = co_await ch.declare_queue("", {.exclusive = true});
    const auto start = clock_type::now();
    co_await publish_all(ch, q.name, count);
    const auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    std::printf("Published %zu messages %s in %.0f ms (%.0f msg/s)\n", count, how, ms,
                static_cast<double>(count) / ms * 1000.0);
    examples::expect(ch.unconfirmed() == 0, "no publish is left unconfirmed");
    auto depth = co_await ch.declare_queue(q.name, {.exclusive = true, .passive = true});
    examples::expect(depth.message_count == count, "the queue holds every message published");
    co_await ch.delete_queue(q.name);
}

asio::awaitable<void> publish_individually(warren::channel& ch, std::string queue,
                                           std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        co_await ch.publish("", queue, std::to_string(i));  // resumes on the broker's ack
    }
}

asio::awaitable<void> publish_in_batches(warren::channel& ch, std::string queue,
                                         std::size_t count) {
    constexpr std::size_t batch_size = 100;
    for (std::size_t i = 0; i < count; ++i) {
        co_await ch.start_publish("", queue, std::to_string(i));  // resumes once sent
        if ((i + 1) % batch_size == 0 || i + 1 == count) {
            examples::expect(co_await ch.wait_for_confirms(),
                             "every message of the batch was acked");
        }
    }
}

asio::awaitable<void> publish_asynchronously(warren::channel& ch, std::string queue,
                                             std::size_t count) {
    std::size_t settled = 0;
    std::vector<warren::confirmation> outstanding;
    for (std::size_t i = 0; i < count; ++i) {
        // Waits (before sending) while 256 confirms are outstanding.
        outstanding.push_back(co_await ch.start_publish("", queue, std::to_string(i)));
        // Forget the settled ones, as the tutorial's confirm callback cleans its map.
        settled +=
            std::erase_if(outstanding, [](const warren::confirmation& c) { return c.settled(); });
    }
    for (const auto& c : outstanding) co_await c.wait();  // throws publish_nacked on a nack
    examples::expect(co_await ch.wait_for_confirms(), "every message was acked");
    std::printf("  (%zu confirms had arrived before the last publish)\n", settled);
}

asio::awaitable<void> run(examples::app& app) {
    const std::size_t count = app.count != 0 ? app.count : 10'000;
    auto conn = co_await app.connect();
    co_await measure(conn, "individually", count, {.confirms = true}, &publish_individually);
    co_await measure(conn, "in batches", count, {.confirms = true}, &publish_in_batches);
    co_await measure(conn, "asynchronously", count, {.confirms = true, .max_unconfirmed = 256},
                     &publish_asynchronously);
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
