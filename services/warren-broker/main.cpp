// warren-broker: the AMQP 0-9-1 broker daemon (foreground).
#include <warren/broker/broker.hpp>
#include <warren/broker/message.hpp>
#include <warren/common/log.hpp>
#include <warren/common/spawn.hpp>
#include <warren/server/server.hpp>
#include <warren/store/store.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <malloc.h>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* usage = R"(usage: warren-broker [options]
  --port N             AMQP port to listen on (default 5672; 0 = any free port)
  --bind ADDR          address to listen on (default 127.0.0.1)
  --data-dir DIR       directory for durable state (created if missing); without it
                       nothing is persisted
  --segment-size BYTES message log segment size (default 67108864)
  --sync-interval-us N minimum microseconds between two fdatasyncs of the message log
                       (default 0: sync as soon as the previous sync ends)
  --log-level LEVEL    debug | info | warning | error | none (default info)
  --heartbeat SECONDS  heartbeat proposed to clients (default 60; 0 = off)
  --frame-max BYTES    largest frame accepted (default 131072, at least 4096)
  --max-message-size BYTES  largest message body accepted (default 134217728)
  --consumer-timeout-ms N    close a channel (406) whose oldest unacked delivery is older
                       than N ms (default 1800000 as RabbitMQ 3.10; 0 = off)
  --busy-poll-us N     after handling I/O, keep polling for N microseconds before sleeping
                       in the kernel (default 100; 0 = sleep at once): fewer thread wake-ups
                       under load for some CPU; an idle broker does not spin
  --trim-mb N          hand freed memory back to the OS (malloc_trim) once messages of N MiB
                       in all were freed since the last time and the RSS is at least 4 x N MiB,
                       checked every second (default 64; 0 = never)
  --help               show this help
)";

struct config {
    warren::server::server_options server;
    std::optional<std::filesystem::path> data_dir;
    warren::broker::broker_options broker;
    std::uint64_t segment_size = 64ull * 1024 * 1024;
    std::uint64_t sync_interval_us = 0;
    std::uint32_t busy_poll_us = 100;
    std::uint64_t trim_mb = 64;
};

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

int fail(const std::string& msg) {
    std::cerr << "warren-broker: " << msg << "\n" << usage;
    return 2;
}

// Returns 0 on success, else the process exit code.
int parse_args(int argc, char** argv, config& c) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return -1;
        }
        if (i + 1 >= argc) return fail("option " + std::string(a) + " needs a value");
        std::string_view v = argv[++i];
        if (a == "--port") {
            if (!parse_number(v, c.server.port))
                return fail("--port: not a port number: " + std::string(v));
        } else if (a == "--bind") {
            c.server.bind = std::string(v);
        } else if (a == "--data-dir") {
            c.data_dir = std::filesystem::path(v);
        } else if (a == "--segment-size") {
            if (!parse_number(v, c.segment_size) || c.segment_size < 4096) {
                return fail("--segment-size: must be a number of bytes >= 4096");
            }
        } else if (a == "--sync-interval-us") {
            if (!parse_number(v, c.sync_interval_us))
                return fail("--sync-interval-us: not a number");
        } else if (a == "--log-level") {
            warren::log_level l{};
            if (!warren::parse_log_level(v, l))
                return fail("--log-level: unknown level " + std::string(v));
            warren::set_log_level(l);
        } else if (a == "--heartbeat") {
            if (!parse_number(v, c.server.session.heartbeat))
                return fail("--heartbeat: not a number of seconds");
        } else if (a == "--frame-max") {
            if (!parse_number(v, c.server.session.frame_max) || c.server.session.frame_max < 4096) {
                return fail("--frame-max: must be a number >= 4096");
            }
        } else if (a == "--max-message-size") {
            if (!parse_number(v, c.broker.max_message_size) || c.broker.max_message_size == 0) {
                return fail("--max-message-size: must be a positive number of bytes");
            }
        } else if (a == "--busy-poll-us") {
            if (!parse_number(v, c.busy_poll_us) || c.busy_poll_us > 1000000) {
                return fail("--busy-poll-us: must be a number of microseconds <= 1000000");
            }
        } else if (a == "--trim-mb") {
            if (!parse_number(v, c.trim_mb) || c.trim_mb > (1u << 20)) {
                return fail("--trim-mb: must be a number of MiB <= 1048576");
            }
        } else if (a == "--consumer-timeout-ms") {
            std::uint64_t ms = 0;
            if (!parse_number(v, ms))
                return fail("--consumer-timeout-ms: not a number of milliseconds");
            c.broker.consumer_timeout = std::chrono::milliseconds(ms);
        } else {
            return fail("unknown option " + std::string(a));
        }
    }
    return 0;
}

// Gives clients a moment to answer connection.close, then stops the loop regardless.
// io.run(), except that after handling something it keeps polling (non-blocking) for `spin`
// before it sleeps in epoll_wait: a message arriving within that time is handled without a
// wake-up of this thread (tens of microseconds on a VM).
void run(asio::io_context& io, std::chrono::microseconds spin) {
    if (spin.count() == 0) {
        io.run();
        return;
    }
    using clock = std::chrono::steady_clock;
    auto last = clock::now();
    while (!io.stopped()) {
        if (io.poll() != 0) {
            last = clock::now();
        } else if (!io.stopped() && clock::now() - last >= spin) {
            io.run_one();
            last = clock::now();
        }
    }
}

// `io` and `srv` outlive the coroutine (they live in main until io.run() returns).
asio::awaitable<void> drain(asio::io_context& io, warren::server::server& srv) {
    asio::steady_timer t(io);
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (srv.connection_count() != 0 && std::chrono::steady_clock::now() < deadline) {
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    io.stop();
}

// Resident set size in bytes (0 if unknown).
std::size_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return n == 2 ? static_cast<std::size_t>(resident) *
                        static_cast<std::size_t>(sysconf(_SC_PAGESIZE))
                  : 0;
}

// glibc keeps freed memory in the process: after a backlog of a million messages is consumed
// or deleted, the broker stays at its peak RSS, and on some VMs a large resident heap alone
// slows every wake-up of the process (docs/benchmarks.md has the latency measured before and
// after). Once `threshold` bytes of
// messages went back to the heap and the broker's RSS is at least 4 x `threshold`, malloc_trim
// returns the free pages. A trim that gives back less than half of the RSS doubles the wait
// before the next one (up to 64 s). A steady stream of large bodies through a small heap
// (64 KiB messages: ~1 GB/s freed, ~70 MB RSS) must not trim: each trim there took 14-52 ms
// and the page faults after it cost 64 KiB throughput ~20 %.
asio::awaitable<void> trim_loop(asio::io_context& io, std::size_t threshold) {
    asio::steady_timer t(io);
    int skip = 0;
    int backoff = 1;
    for (;;) {
        t.expires_after(1s);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || io.stopped()) co_return;
        if (skip > 0) {
            --skip;
            continue;
        }
        if (warren::broker::released_bytes() < threshold) continue;
        const auto freed = warren::broker::take_released_bytes();
        const auto before = resident_bytes();
        if (before < 4 * threshold)
            continue;  // a small heap: not worth a trim and the faults after it
        const auto t0 = std::chrono::steady_clock::now();
        malloc_trim(0);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - t0);
        const auto after = resident_bytes();
        if (after > before / 2) {
            skip = backoff;
            backoff = std::min(backoff * 2, 64);
        } else {
            backoff = 1;
        }
        warren::log(warren::log_level::debug, "malloc_trim after " + std::to_string(freed >> 20) +
                                                  " MiB of messages freed: RSS " +
                                                  std::to_string(before >> 20) + " -> " +
                                                  std::to_string(after >> 20) + " MiB in " +
                                                  std::to_string(us.count()) + " us");
    }
}

// Recovers the durable state into `brk`, then attaches the store. Returns an exit code.
int open_store(const config& cfg, asio::io_context& io, warren::broker::broker& brk,
               std::unique_ptr<warren::store::store>& out) {
    try {
        out = std::make_unique<warren::store::store>(warren::store::store_options{
            .dir = *cfg.data_dir,
            .segment_size = cfg.segment_size,
            .sync_interval = std::chrono::microseconds(cfg.sync_interval_us),
            .lazy_sync = std::chrono::milliseconds(200),
            // A completion raises broker events (confirms, commit-oks): hand them out after it.
            .post =
                [&io, &brk](std::function<void()> f) {
                    asio::post(io, [f = std::move(f), &brk] {
                        f();
                        brk.flush_events();
                    });
                },
            .log =
                [](std::string_view line) {
                    warren::log(warren::log_level::warning, "store: " + std::string(line));
                },
        });
        const auto st = out->recover(brk);
        warren::log(warren::log_level::info,
                    "recovered " + std::to_string(st.exchanges) + " exchanges, " +
                        std::to_string(st.queues) + " queues, " + std::to_string(st.bindings) +
                        " bindings, " + std::to_string(st.messages) + " messages from " +
                        std::to_string(st.segments) + " segments in " +
                        std::to_string(st.elapsed.count() / 1000) + " ms");
    } catch (const std::system_error& e) {
        std::cerr << "warren-broker: cannot open data dir " << *cfg.data_dir << ": " << e.what()
                  << "\n";
        return 1;
    }
    brk.set_persistence(out.get());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    if (int rc = parse_args(argc, argv, cfg); rc != 0) return rc < 0 ? 0 : rc;
    if (cfg.trim_mb != 0) {
        // The broker hands memory back itself (trim_loop): glibc's own trimming of the heap's
        // top on free() (past 128 KiB by default) only churns. With a stream of bodies it gave
        // the top back and took it again as fresh zeroed pages, message after message. Allocations
        // up to 4 MiB come from the heap (the dynamic threshold would get there after the first
        // large free anyway; setting the trim threshold turns that adjustment off).
        mallopt(M_TRIM_THRESHOLD,
                static_cast<int>(std::min<std::uint64_t>(cfg.trim_mb << 20, INT_MAX)));
        mallopt(M_MMAP_THRESHOLD, 4 << 20);
    }
    std::signal(SIGPIPE, SIG_IGN);
    if (cfg.data_dir) {
        std::error_code ec;
        std::filesystem::create_directories(*cfg.data_dir, ec);
        if (ec) {
            std::cerr << "warren-broker: cannot create data dir " << *cfg.data_dir << ": "
                      << ec.message() << "\n";
            return 1;
        }
    }
    // The store outlives the broker, which outlives the io_context: destroying the context
    // destroys the connections' coroutines, whose sessions release their broker state (and may
    // still record into the store).
    std::unique_ptr<warren::store::store> store;
    warren::broker::broker brk(cfg.broker);
    asio::io_context io(1);
    if (cfg.data_dir) {
        if (int rc = open_store(cfg, io, brk, store); rc != 0) return rc;
    }
    warren::server::server srv(io, brk, cfg.server);
    try {
        srv.start();
    } catch (const boost::system::system_error& e) {
        std::cerr << "warren-broker: cannot listen on " << cfg.server.bind << ":" << cfg.server.port
                  << ": " << e.code().message() << "\n";
        return 1;
    }
    // Machine-readable line for scripts that started us with --port 0.
    std::cout << "warren-broker listening on " << cfg.server.bind << ":" << srv.port() << std::endl;

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        warren::log(
            warren::log_level::info,
            std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
        srv.stop();
        warren::spawn(io.get_executor(), drain(io, srv), "shutdown drain");
    });
    if (cfg.trim_mb != 0) {
        warren::spawn(io.get_executor(), trim_loop(io, static_cast<std::size_t>(cfg.trim_mb) << 20),
                      "heap trimming");
    }
    run(io, std::chrono::microseconds(cfg.busy_poll_us));
    if (store) store->stop_callbacks();  // the io_context is about to go
    warren::log(warren::log_level::info, "stopped");
    return 0;
}
