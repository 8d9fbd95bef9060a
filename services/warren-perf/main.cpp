// warren-perf: throughput and latency of an AMQP 0-9-1 broker (Warren or RabbitMQ), measured
// with Warren's client. Live lines go to stderr, the summary (or --json) to stdout.
#include "workload.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using warren::perf::counters;
using warren::perf::histogram;
using warren::perf::options;

constexpr const char* usage = R"(usage: warren-perf [options]
  --uri URI            broker (default amqp://guest:guest@127.0.0.1:5672)
  --embedded           run an embedded broker in this process instead (one thread)
  -x, --producers N    producer connections (default 1)
  -y, --consumers N    consumer connections (default 1)
  -q, --queues N       queues (default 1); producer/consumer i uses the queues q with
                       q % min(N, workers) == i % min(N, workers), round-robin
  -t, --exchange-type direct|fanout|topic   (default direct)
  -s, --size BYTES     message body size (default 16)
  -f, --persistent     delivery-mode 2 and durable queues
  -c, --confirm W      publisher confirms, at most W unconfirmed per producer (default off)
  -Q, --prefetch N     basic.qos per consumer (default 100; 0 = unlimited)
  -A, --multi-ack N    ack with multiple=true every N deliveries (default 1)
  -a, --auto-ack       consume with no-ack
  --stream-per-queue   a consumer on several queues reads each through its own stream and
                       coroutine (consume() per queue) instead of one consume_many() stream
  -r, --rate R         messages per second per producer (default: unlimited); latency is
                       measured in fixed-rate runs only (timestamp in the body, size >= 8)
  -z, --duration S     seconds to run (default 10)
  -C, --count N        messages per producer, then stop (default: unlimited)
  -w, --warmup S       seconds excluded from the summary (default 0)
  -T, --threads N      io_context threads for the connections (default 2)
  --json               print the summary as one JSON object on stdout
  -h, --help
)";

struct reporter {
    double last_elapsed = 0;
    std::uint64_t last_sent = 0, last_confirmed = 0, last_received = 0;
    histogram::snapshot last_latency;
    // measurement window: from the end of the warm-up to the last tick
    std::optional<double> base_elapsed;
    std::uint64_t base_sent = 0, base_confirmed = 0, base_received = 0;
    histogram::snapshot base_latency;
    double end_elapsed = 0;
    std::uint64_t end_sent = 0, end_confirmed = 0, end_received = 0;
    histogram::snapshot end_latency;
};

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void tick(const options& o, counters& c, double elapsed, void* ctx) {
    auto& r = *static_cast<reporter*>(ctx);
    const auto sent = c.sent.load(), confirmed = c.confirmed.load(), received = c.received.load();
    auto lat = c.latency.take();
    const double dt = elapsed - r.last_elapsed;
    if (dt > 0.05) {
        auto interval = lat.minus(r.last_latency);
        std::fprintf(
            stderr,
            "warren-perf: time %.1f s, sent %.0f msg/s, confirmed %.0f msg/s, received %.0f msg/s",
            elapsed, static_cast<double>(sent - r.last_sent) / dt,
            static_cast<double>(confirmed - r.last_confirmed) / dt,
            static_cast<double>(received - r.last_received) / dt);
        if (o.rate > 0 && interval.total() > 0) {
            std::fprintf(stderr, ", latency p50 %.0f us, p99 %.0f us, max %.0f us",
                         us(interval.percentile(50)), us(interval.percentile(99)),
                         us(interval.max));
        }
        std::fputc('\n', stderr);
    }
    if (!r.base_elapsed && elapsed >= o.warmup.count()) {
        r.base_elapsed = o.warmup.count() > 0 ? elapsed : 0.0;
        if (o.warmup.count() > 0) {
            r.base_sent = sent, r.base_confirmed = confirmed, r.base_received = received;
            r.base_latency = lat;
        }
    }
    r.last_elapsed = elapsed, r.last_sent = sent, r.last_confirmed = confirmed,
    r.last_received = received;
    r.last_latency = lat;
    r.end_elapsed = elapsed, r.end_sent = sent, r.end_confirmed = confirmed,
    r.end_received = received;
    r.end_latency = std::move(lat);
}

template <class T>
T number(std::string_view opt, const char* v) {
    T out{};
    std::string_view s(v);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc{} || p != s.data() + s.size()) {
        throw std::invalid_argument(std::string(opt) + ": not a number: " + std::string(s));
    }
    return out;
}

double real(std::string_view opt, const char* v) {
    char* end = nullptr;
    double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || !std::isfinite(d) || d < 0) {
        throw std::invalid_argument(std::string(opt) + ": not a non-negative number: " + v);
    }
    return d;
}

bool parse(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc)
                throw std::invalid_argument("option " + std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return false;
        } else if (a == "--uri") {
            o.uri = value();
        } else if (a == "-x" || a == "--producers") {
            o.producers = number<int>(a, value());
        } else if (a == "-y" || a == "--consumers") {
            o.consumers = number<int>(a, value());
        } else if (a == "-q" || a == "--queues") {
            o.queues = number<int>(a, value());
        } else if (a == "-t" || a == "--exchange-type") {
            std::string_view t = value();
            if (t == "direct")
                o.exchange = warren::perf::exchange_kind::direct;
            else if (t == "fanout")
                o.exchange = warren::perf::exchange_kind::fanout;
            else if (t == "topic")
                o.exchange = warren::perf::exchange_kind::topic;
            else
                throw std::invalid_argument("--exchange-type: direct, fanout or topic");
        } else if (a == "-s" || a == "--size") {
            o.size = number<std::size_t>(a, value());
        } else if (a == "-f" || a == "--persistent") {
            o.persistent = true;
        } else if (a == "-c" || a == "--confirm") {
            o.confirm = number<std::uint32_t>(a, value());
        } else if (a == "-Q" || a == "--prefetch") {
            o.prefetch = number<std::uint16_t>(a, value());
        } else if (a == "-A" || a == "--multi-ack") {
            o.multi_ack = std::max<std::uint32_t>(1, number<std::uint32_t>(a, value()));
        } else if (a == "-a" || a == "--auto-ack") {
            o.auto_ack = true;
        } else if (a == "-r" || a == "--rate") {
            o.rate = real(a, value());
        } else if (a == "-z" || a == "--duration") {
            o.duration = std::chrono::duration<double>(real(a, value()));
        } else if (a == "-C" || a == "--count") {
            o.count = number<std::uint64_t>(a, value());
        } else if (a == "-w" || a == "--warmup") {
            o.warmup = std::chrono::duration<double>(real(a, value()));
        } else if (a == "-T" || a == "--threads") {
            o.threads = number<int>(a, value());
        } else if (a == "--stream-per-queue") {
            o.stream_per_queue = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--embedded") {
            o.embedded = true;
        } else {
            throw std::invalid_argument("unknown option " + std::string(a));
        }
    }
    if (o.producers < 0 || o.consumers < 0 || o.producers + o.consumers == 0) {
        throw std::invalid_argument("need at least one producer or consumer");
    }
    if (o.queues < 1 || o.queues > 100000)
        throw std::invalid_argument("--queues must be 1..100000");
    if (o.threads < 1 || o.threads > 64) throw std::invalid_argument("--threads must be 1..64");
    if (o.duration.count() <= 0 || o.duration.count() > 86400)
        throw std::invalid_argument("--duration must be in (0, 86400]");
    if (o.warmup >= o.duration)
        throw std::invalid_argument("--warmup must be shorter than --duration");
    return true;
}

void summary(const options& o, const counters& c, const reporter& r) {
    const double secs = r.end_elapsed - r.base_elapsed.value_or(0);
    const auto sent = r.end_sent - r.base_sent, confirmed = r.end_confirmed - r.base_confirmed,
               received = r.end_received - r.base_received;
    const auto lat = o.warmup.count() > 0 ? r.end_latency.minus(r.base_latency) : r.end_latency;
    const double rate = secs > 0 ? 1.0 / secs : 0;
    const bool latency = o.rate > 0 && lat.total() > 0;
    const auto s = static_cast<double>(sent), cf = static_cast<double>(confirmed),
               rc = static_cast<double>(received);
    if (o.json) {
        std::printf(
            "{\"seconds\": %.3f, \"sent\": %llu, \"confirmed\": %llu, \"received\": %llu, "
            "\"send_rate\": %.1f, \"confirm_rate\": %.1f, \"receive_rate\": %.1f, "
            "\"size\": %zu, \"producers\": %d, \"consumers\": %d, \"queues\": %d, \"failures\": %d",
            secs, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(confirmed),
            static_cast<unsigned long long>(received), s * rate, cf * rate, rc * rate, o.size,
            o.producers, o.consumers, o.queues, c.failures.load());
        if (latency) {
            std::printf(
                ", \"latency_us\": {\"count\": %llu, \"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, "
                "\"p99_9\": %.1f, \"max\": %.1f}",
                static_cast<unsigned long long>(lat.total()), us(lat.percentile(50)),
                us(lat.percentile(95)), us(lat.percentile(99)), us(lat.percentile(99.9)),
                us(lat.max));
        }
        std::printf("}\n");
        return;
    }
    std::printf(
        "summary: %.2f s, sent %.0f msg/s, confirmed %.0f msg/s, received %.0f msg/s (%.1f MB/s)\n",
        secs, s * rate, cf * rate, rc * rate, rc * rate * static_cast<double>(o.size) / 1e6);
    if (latency) {
        std::printf(
            "latency: p50 %.0f us, p95 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us (%llu "
            "samples)\n",
            us(lat.percentile(50)), us(lat.percentile(95)), us(lat.percentile(99)),
            us(lat.percentile(99.9)), us(lat.max), static_cast<unsigned long long>(lat.total()));
    }
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    try {
        if (!parse(argc, argv, o)) return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "warren-perf: %s\n%s", e.what(), usage);
        return 2;
    }
    counters c;
    reporter r;
    try {
        if (!warren::perf::run(o, c, tick, &r)) return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "warren-perf: %s\n", e.what());
        return 1;
    }
    summary(o, c, r);
    return c.failures.load() == 0 ? 0 : 1;
}
