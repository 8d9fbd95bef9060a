// warren-service-perf: what the worker framework costs and what request/reply achieves.
//
//   warren-service-perf worker      [--uri U] [--messages 200000] [--prefetch 100] [--size 16]
//                                   [--concurrency N (default: = prefetch)]
//   [--runs 3] warren-service-perf rpc         [--uri U] [--calls 20000] [--concurrency 100]
//                                              [--threads 1|2]
//   [--runs 3] warren-service-perf rpc-latency [--uri U] [--calls 5000]
//
// worker: a backlog of --messages messages of --size bytes, consumed with manual acks and
//   prefetch --prefetch by (a) the plain client loop `while (d = next()) ack` and (b) a
//   warren::worker with a handler that does nothing; the two alternate, --runs each. Prints
//   each run's rate and `worker_vs_plain=<median ratio>`. `--only plain|worker` runs one of
//   the two (to profile it).
// rpc: an rpc_server (concurrency = --concurrency) and an rpc_client with --concurrency calls
//   in flight, on two connections of this process; prints calls per second. With --threads 2
//   the server runs on a thread (and io_context) of its own, as it would in another process;
//   with 1 (the default) both share one thread, which then bounds the rate.
// rpc-latency: one call at a time; prints p50/p99 in microseconds.
// Without --uri the broker is an embedded one in this process.
#include <warren/common/log.hpp>
#include <warren/embedded.hpp>
#include <warren/service/rpc.hpp>
#include <warren/service/worker.hpp>
#include <warren/warren.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

struct settings {
    std::string mode;
    std::string uri = "embedded://";
    std::size_t messages = 200000;
    std::uint16_t prefetch = 100;
    std::size_t size = 16;
    int runs = 3;
    std::size_t calls = 20000;
    std::size_t concurrency = 100;
    bool concurrency_given = false;  // worker mode: the worker's concurrency (default prefetch)
    int threads = 1;
    std::string only;  // worker mode: "plain" or "worker" runs only that one (for profiling)
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

asio::awaitable<void> fill(warren::connection& conn, const std::string& q, const settings& s) {
    auto ch = co_await conn.open_channel({.confirms = true, .max_unconfirmed = 1000});
    co_await ch.declare_queue(q, {.auto_delete = false});
    co_await ch.purge_queue(q);
    const std::string body(s.size, 'x');
    for (std::size_t i = 0; i < s.messages; ++i) co_await ch.start_publish("", q, body);
    co_await ch.wait_for_confirms();
    co_await ch.close();
}

asio::awaitable<double> plain_consume(warren::connection& conn, std::string q, const settings& s) {
    auto ch = co_await conn.open_channel();
    co_await ch.set_prefetch(s.prefetch);
    const auto t0 = clock_type::now();
    auto stream = co_await ch.consume(q);
    for (std::size_t i = 0; i < s.messages; ++i) {
        auto d = co_await stream.next();
        co_await d->ack();
    }
    const auto secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    co_await ch.close();
    co_return static_cast<double>(s.messages) / secs;
}

asio::awaitable<void> nothing(warren::message_context&) { co_return; }

asio::awaitable<void> stop_when(warren::worker& w, std::size_t n) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (w.stats().succeeded < n) {
        t.expires_after(1ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    w.stop();
}

asio::awaitable<double> worker_consume(warren::connection& conn, std::string q, const settings& s) {
    warren::worker_options o;
    o.queues = {q};
    o.prefetch = s.prefetch;
    if (s.concurrency_given)
        o.concurrency =
            static_cast<std::uint16_t>(std::min<std::size_t>(s.concurrency, s.prefetch));
    o.declare_topology = false;
    warren::worker w{conn, o};
    const auto t0 = clock_type::now();
    double secs = 0;
    auto timed_stop = [](warren::worker& wk, std::size_t n, clock_type::time_point start,
                         double& out) -> asio::awaitable<void> {
        co_await stop_when(wk, n);
        out = std::chrono::duration<double>(clock_type::now() - start).count();
    };
    co_await (w.run(nothing) && timed_stop(w, s.messages, t0, secs));
    co_return static_cast<double>(s.messages) / secs;
}

asio::awaitable<void> worker_mode(asio::io_context& io, settings s) {
    auto conn = co_await warren::connect(io, s.uri);
    const std::string q = "warren-service-perf.worker";
    std::vector<double> plain, worked;
    for (int r = 0; r < s.runs; ++r) {
        for (int which = 0; which < 2; ++which) {
            const bool worker_first = r % 2 == 1;  // alternate the order from run to run
            const bool use_worker = (which == 0) == worker_first;
            if (!s.only.empty() && s.only != (use_worker ? "worker" : "plain")) continue;
            co_await fill(conn, q, s);
            const double rate = use_worker ? co_await worker_consume(conn, q, s)
                                           : co_await plain_consume(conn, q, s);
            (use_worker ? worked : plain).push_back(rate);
            std::printf("run %d %-6s %10.0f msg/s\n", r + 1, use_worker ? "worker" : "plain", rate);
            std::fflush(stdout);
        }
    }
    auto ch = co_await conn.open_channel();
    co_await ch.delete_queue(q);
    if (s.only.empty()) {
        std::printf("plain_msgs_per_s=%.0f worker_msgs_per_s=%.0f worker_vs_plain=%.3f\n",
                    median(plain), median(worked), median(worked) / median(plain));
    } else {
        std::printf("%s_msgs_per_s=%.0f\n", s.only.c_str(),
                    median(s.only == "plain" ? plain : worked));
    }
    co_await conn.close();
}

constexpr const char* rpc_queue = "warren-service-perf.rpc";

asio::awaitable<std::string> echo(warren::message_context& m) { co_return m.body(); }

asio::awaitable<void> caller(warren::rpc_client& rpc, std::size_t& next, std::size_t total,
                             std::vector<double>* lat) {
    while (next < total) {
        ++next;
        const auto t0 = clock_type::now();
        co_await rpc.call(rpc_queue, "1234567890123456", {}, 30s);
        if (lat)
            lat->push_back(
                std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
}

asio::awaitable<void> all_calls(warren::connection& conn, const settings& s, double& rate,
                                std::vector<double>* lat) {
    {
        // The request queue exists before the first call, whichever side starts first.
        auto ch = co_await conn.open_channel();
        co_await ch.declare_queue(rpc_queue);
        co_await ch.close();
    }
    auto rpc = co_await warren::rpc_client::open(conn);
    const std::size_t lanes = lat ? 1 : s.concurrency;
    std::size_t next = 0;
    std::size_t running = lanes;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer done(ex, clock_type::time_point::max());
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < lanes; ++i) {
        asio::co_spawn(
            ex, caller(rpc, next, s.calls, lat), [&running, &done](const std::exception_ptr& e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                        std::fprintf(stderr, "warren-service-perf: a call failed: %s\n", x.what());
                    }
                }
                if (--running == 0) done.cancel();
            });
    }
    co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
    rate = static_cast<double>(s.calls) /
           std::chrono::duration<double>(clock_type::now() - t0).count();
    co_await rpc.close();
}

asio::awaitable<void> calls_then_stop(warren::connection& conn, warren::rpc_server& server,
                                      const settings& s, double& rate, std::vector<double>* lat) {
    struct stop_at_end {
        warren::rpc_server& server;
        ~stop_at_end() { server.stop(); }
    } guard{server};
    co_await all_calls(conn, s, rate, lat);
}

warren::rpc_server_options server_options(const settings& s) {
    warren::rpc_server_options so;
    so.queue = rpc_queue;
    so.concurrency = static_cast<std::uint16_t>(std::min<std::size_t>(s.concurrency, 65535));
    return so;
}

/// The rpc_server on its own io_context and thread, as in another process: the client's
/// thread then pays only for the client's side of each call.
class server_thread {
  public:
    explicit server_thread(const settings& s) : settings_(s) {
        asio::co_spawn(io_, serve(), [this](const std::exception_ptr& e) { error_ = e; });
        thread_ = std::thread([this] { io_.run(); });
    }
    server_thread(const server_thread&) = delete;
    server_thread& operator=(const server_thread&) = delete;
    ~server_thread() {
        try {
            stop();
        } catch (const std::exception& e) {  // the thread cannot be stopped: nothing else to do
            std::fprintf(stderr, "warren-service-perf: stopping the server thread: %s\n", e.what());
            std::terminate();
        }
    }
    /// Stops the server and waits for its thread.
    void stop() {
        if (!thread_.joinable()) return;
        asio::post(io_, [this] {
            stop_requested_ = true;
            if (server_) server_->stop();
        });
        thread_.join();
    }
    /// What ended the server, if it failed (after stop()).
    const std::exception_ptr& error() const noexcept { return error_; }

  private:
    asio::awaitable<void> serve() {
        auto conn = co_await warren::connect(io_, settings_.uri);
        {
            warren::rpc_server server{conn, server_options(settings_)};
            server_ = &server;
            if (stop_requested_) server.stop();
            co_await server.run(echo);
            server_ = nullptr;
        }
        co_await conn.close();
    }

    settings settings_;
    asio::io_context io_{1};
    std::thread thread_;
    warren::rpc_server* server_ = nullptr;  // used on io_'s thread only
    bool stop_requested_ = false;
    std::exception_ptr error_;
};

asio::awaitable<void> rpc_mode(asio::io_context& io, settings s, bool latency) {
    std::vector<double> rates;
    std::vector<double> lat;
    for (int r = 0; r < (latency ? 1 : s.runs); ++r) {
        double rate = 0;
        auto client_conn = co_await warren::connect(io, s.uri);
        if (s.threads == 2) {
            server_thread server(s);
            std::exception_ptr failed;
            try {
                co_await all_calls(client_conn, s, rate, latency ? &lat : nullptr);
            } catch (...) {
                failed = std::current_exception();
            }
            server.stop();
            if (!failed) failed = server.error();
            if (failed) std::rethrow_exception(failed);
        } else {
            auto server_conn = co_await warren::connect(io, s.uri);
            warren::rpc_server server{server_conn, server_options(s)};
            co_await (server.run(echo) &&
                      calls_then_stop(client_conn, server, s, rate, latency ? &lat : nullptr));
            co_await server_conn.close();
        }
        if (!latency) {
            rates.push_back(rate);
            std::printf("run %d %10.0f calls/s\n", r + 1, rate);
            std::fflush(stdout);
        }
        co_await client_conn.close();
    }
    if (latency) {
        std::sort(lat.begin(), lat.end());
        auto at = [&](double q) {
            return lat[std::min(lat.size() - 1,
                                static_cast<std::size_t>(q * static_cast<double>(lat.size())))];
        };
        std::printf("calls=%zu p50_us=%.0f p99_us=%.0f\n", lat.size(), at(0.50), at(0.99));
    } else {
        std::printf("calls_per_s=%.0f\n", median(rates));
    }
}

std::uint64_t number(const char* flag, const char* s) {
    std::uint64_t v = 0;
    std::string_view sv(s);
    auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), v);
    if (ec != std::errc{} || p != sv.data() + sv.size())
        throw std::invalid_argument(std::string(flag) + ": not a number");
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        if (argc < 2) throw std::invalid_argument("a mode: worker, rpc or rpc-latency");
        s.mode = argv[1];
        for (int i = 2; i + 1 < argc; i += 2) {
            const std::string f = argv[i];
            if (f == "--uri")
                s.uri = argv[i + 1];
            else if (f == "--messages")
                s.messages = number("--messages", argv[i + 1]);
            else if (f == "--prefetch")
                s.prefetch = static_cast<std::uint16_t>(number("--prefetch", argv[i + 1]));
            else if (f == "--size")
                s.size = number("--size", argv[i + 1]);
            else if (f == "--runs")
                s.runs = static_cast<int>(number("--runs", argv[i + 1]));
            else if (f == "--calls")
                s.calls = number("--calls", argv[i + 1]);
            else if (f == "--only")
                s.only = argv[i + 1];
            else if (f == "--threads")
                s.threads = static_cast<int>(number("--threads", argv[i + 1]));
            else if (f == "--concurrency") {
                s.concurrency = std::max<std::uint64_t>(1, number("--concurrency", argv[i + 1]));
                s.concurrency_given = true;
            } else
                throw std::invalid_argument("unknown option " + f);
        }
        if (argc % 2 != 0) throw std::invalid_argument("an option without its value");
        if (s.mode != "worker" && s.mode != "rpc" && s.mode != "rpc-latency")
            throw std::invalid_argument("unknown mode " + s.mode);
        if (!s.only.empty() && s.only != "plain" && s.only != "worker")
            throw std::invalid_argument("--only: plain or worker");
        if (s.threads != 1 && s.threads != 2) throw std::invalid_argument("--threads: 1 or 2");
        if (s.threads == 2 &&
            (s.mode == "worker" || warren::parse_uri(s.uri).scheme == warren::uri_scheme::embedded))
            throw std::invalid_argument(
                "--threads 2 is for rpc and rpc-latency through a broker (--uri amqp://...)");
    } catch (const std::exception& e) {
        std::cerr << "warren-service-perf: " << e.what()
                  << "\nusage: warren-service-perf worker|rpc|rpc-latency [--uri U] [--messages N] "
                     "[--prefetch N]"
                     " [--size B] [--runs N] [--only plain|worker] [--calls N] [--concurrency N]"
                     " [--threads 1|2]\n";
        return 2;
    }
    try {
        warren::set_log_level(warren::log_level::warning);
        asio::io_context io(1);
        std::unique_ptr<warren::embedded_broker> broker;
        if (warren::parse_uri(s.uri).scheme == warren::uri_scheme::embedded)
            broker = std::make_unique<warren::embedded_broker>(io);
        int status = 1;
        auto task =
            s.mode == "worker" ? worker_mode(io, s) : rpc_mode(io, s, s.mode == "rpc-latency");
        asio::co_spawn(io, std::move(task), [&](const std::exception_ptr& e) {
            io.stop();
            if (!e) {
                status = 0;
                return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "warren-service-perf: " << x.what() << '\n';
            }
        });
        io.run();
        return status;
    } catch (const std::exception& e) {  // e.g. the embedded broker could not start
        std::cerr << "warren-service-perf: " << e.what() << '\n';
        return 1;
    }
}
