#pragma once
// warren-perf's load: producers and consumers on Warren's client, their shared counters, and
// the scenario options. Everything client-specific is in workload.cpp, so that the client can
// be swapped without touching the reporting in main.cpp.

#include "histogram.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace warren::perf {

enum class exchange_kind { direct, fanout, topic };

struct options {
    std::string uri = "amqp://guest:guest@127.0.0.1:5672";
    int producers = 1;
    int consumers = 1;
    int queues = 1;
    exchange_kind exchange = exchange_kind::direct;
    std::size_t size = 16;
    bool persistent = false;
    /// Publisher confirms with at most this many unconfirmed per producer (0: no confirms).
    std::uint32_t confirm = 0;
    std::uint16_t prefetch = 100;
    /// Ack with multiple=true every N deliveries (1: each one).
    std::uint32_t multi_ack = 1;
    bool auto_ack = false;
    bool stream_per_queue = false;  ///< a consume() stream per queue instead of one consume_many()
    /// Messages per second per producer (0: as fast as possible). Latency is measured only
    /// in fixed-rate runs: the send time is the first 8 bytes of the body.
    double rate = 0;
    std::chrono::duration<double> duration{10};
    /// Messages per producer (0: until the end of the duration).
    std::uint64_t count = 0;
    std::chrono::duration<double> warmup{0};
    /// io_context threads the connections are spread over (consumers first, then producers,
    /// round-robin; with the default, one producer and one consumer get a thread each).
    int threads = 2;
    /// Queue name prefix (the pid is appended); queues are deleted at the end.
    std::string prefix = "warren-perf";
    bool json = false;
    /// Run an embedded broker in this process (warren::embedded_broker) instead of connecting
    /// to --uri. Its connections all run on the broker's strand, so one thread is used.
    bool embedded = false;
};

struct counters {
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> confirmed{0};
    std::atomic<std::uint64_t> nacked{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<int> failures{0};
    std::atomic<int> ready{0};  // producers and consumers that finished their setup
    std::atomic<int> producers_done{0};
    histogram latency;
};

/// Runs the scenario to completion: declares the topology, starts consumers then producers,
/// calls `tick` about once a second on the calling thread (with the elapsed time), stops at
/// the deadline (every loop is bounded by it) and deletes the queues.
/// Returns false when the setup failed (details on stderr).
bool run(const options& o, counters& c,
         void (*tick)(const options&, counters&, double elapsed, void* ctx), void* ctx);

/// Nanoseconds on a clock shared by producers and consumers of this process.
std::uint64_t now_ns() noexcept;

}  // namespace warren::perf
