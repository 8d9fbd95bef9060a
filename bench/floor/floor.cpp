// warren-floor: what this machine can do with no broker at all, measured the same way as a
// broker scenario, so that a benchmark table can show how far from the machine's own limit each
// broker is.
//
// Three threads: a producer, a relay and a consumer. The producer writes messages of --size
// bytes over a loopback TCP connection to the relay; the relay forwards every byte it reads
// (reads of up to 256 KiB, as warren-broker's) over a second loopback connection to the
// consumer. That is the least any broker on this machine can do for a 1 -> 1 transient message:
// two TCP hops and the wake-ups between three threads; no framing, routing or queueing.
//
//   throughput: the producer writes as fast as the connections take; result: messages/s and
//               bytes/s at the consumer.
//   latency:    the producer sends one message every 1/--rate s, with its send time in the first
//               8 bytes; the consumer records now - send time; result: percentiles (exact).
//               --spin makes the relay poll (non-blocking reads in a loop) instead of
//               sleeping in the kernel between messages, as warren-broker --busy-poll-us does
//               when the gap between messages is shorter than its polling time.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr const char* usage = R"(usage: warren-floor throughput|latency [options]
  --size B        message size in bytes (default 65536 for throughput, 16 for latency; >= 8)
  --duration S    seconds to run (default 5)
  --rate R        latency: messages per second (default 1000)
  --spin          latency: the relay polls instead of sleeping
  --json          print the result as one JSON object
)";

struct options {
    bool latency = false;
    std::size_t size = 0;
    double duration = 5;
    double rate = 1000;
    bool spin = false;
    bool json = false;
};

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
            .count());
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A connected pair of loopback TCP sockets (a listener on a free port, connect, accept).
std::pair<int, int> tcp_pair() {
    const int l = ::socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) fail("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("bind");
    if (::listen(l, 1) != 0) fail("listen");
    if (::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) fail("getsockname");
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) fail("socket");
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("connect");
    const int s = ::accept(l, nullptr, nullptr);
    if (s < 0) fail("accept");
    ::close(l);
    const int one = 1;
    for (int fd : {c, s}) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return {c, s};
}

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const auto w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// One read: blocking, or (spin) non-blocking reads until something arrives. 0 = closed.
ssize_t read_some(int fd, char* p, std::size_t n, bool spin) {
    for (;;) {
        const auto r = ::recv(fd, p, n, spin ? MSG_DONTWAIT : 0);
        if (r < 0 && (errno == EINTR || (spin && (errno == EAGAIN || errno == EWOULDBLOCK))))
            continue;
        return r < 0 ? 0 : r;
    }
}

void relay(int in, int out, bool spin) {
    std::vector<char> buf(std::size_t{256} * 1024);
    for (;;) {
        const auto r = read_some(in, buf.data(), buf.size(), spin);
        if (r <= 0 || !write_all(out, buf.data(), static_cast<std::size_t>(r))) break;
    }
    ::shutdown(out, SHUT_WR);
}

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int run(const options& o) {
    auto [p_out, r_in] = tcp_pair();
    // Not a structured binding: the consumer lambda captures c_in, which clang-tidy 14's
    // parser (clang 14) does not allow for bindings.
    const auto consumer_pair = tcp_pair();
    const int r_out = consumer_pair.first;
    const int c_in = consumer_pair.second;
    const double cpu0 = cpu_seconds();
    std::thread relay_thread(relay, r_in, r_out, o.spin);

    std::uint64_t bytes = 0;
    std::vector<std::uint64_t> lat;
    double elapsed = 0;
    std::thread consumer([&] {
        std::vector<char> buf(o.latency ? o.size : std::size_t{256} * 1024);
        const auto t0 = clock_type::now();
        if (!o.latency) {
            while (const auto r = read_some(c_in, buf.data(), buf.size(), false))
                bytes += static_cast<std::uint64_t>(r);
        } else {
            std::size_t have = 0;
            while (const auto r = read_some(c_in, buf.data() + have, o.size - have, false)) {
                have += static_cast<std::size_t>(r);
                if (have < o.size) continue;
                std::uint64_t sent = 0;
                std::memcpy(&sent, buf.data(), sizeof sent);
                const auto now = now_ns();
                lat.push_back(now > sent ? now - sent : 0);
                bytes += o.size;
                have = 0;
            }
        }
        elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
    });

    std::vector<char> msg(o.size, 'x');
    const auto start = clock_type::now();
    const auto stop = start + std::chrono::duration_cast<clock_type::duration>(
                                  std::chrono::duration<double>(o.duration));
    std::uint64_t sent = 0;
    while (clock_type::now() < stop) {
        if (o.latency) {
            std::this_thread::sleep_until(
                start + std::chrono::duration_cast<clock_type::duration>(
                            std::chrono::duration<double>(static_cast<double>(sent) / o.rate)));
            const auto t = now_ns();
            std::memcpy(msg.data(), &t, sizeof t);
        }
        if (!write_all(p_out, msg.data(), msg.size())) break;
        ++sent;
    }
    ::shutdown(p_out, SHUT_WR);
    consumer.join();
    relay_thread.join();
    const double cpu = cpu_seconds() - cpu0;
    for (int fd : {p_out, r_in, r_out, c_in}) ::close(fd);

    const std::uint64_t messages = bytes / o.size;  // whole messages only
    const double received = static_cast<double>(messages);
    const double rate = elapsed > 0 ? received / elapsed : 0;
    std::string lat_json;
    if (o.latency && !lat.empty()) {
        std::sort(lat.begin(), lat.end());
        auto pct = [&](double q) {
            auto i = static_cast<std::size_t>(q * static_cast<double>(lat.size()));
            return static_cast<double>(lat[std::min(i, lat.size() - 1)]) / 1e3;
        };
        char b[256];
        std::snprintf(b, sizeof b,
                      "{\"count\": %zu, \"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"p99_9\": "
                      "%.1f, \"max\": %.1f}",
                      lat.size(), pct(0.5), pct(0.95), pct(0.99), pct(0.999),
                      static_cast<double>(lat.back()) / 1e3);
        lat_json = b;
    }
    if (o.json) {
        std::printf(
            "{\"mode\": \"%s\", \"size\": %zu, \"sent\": %llu, \"received\": %.0f, \"seconds\": "
            "%.3f, "
            "\"receive_rate\": %.1f, \"bytes_per_second\": %.0f, \"cpu_seconds\": %.2f%s%s, "
            "\"spin\": %s}\n",
            o.latency ? "latency" : "throughput", o.size, static_cast<unsigned long long>(sent),
            received, elapsed, rate, rate * static_cast<double>(o.size), cpu,
            lat_json.empty() ? "" : ", \"latency_us\": ", lat_json.c_str(),
            o.spin ? "true" : "false");
    } else {
        std::printf("%s, %zu B: %.0f msg/s, %.3f GB/s at the consumer, %.2f CPU s\n",
                    o.latency ? "latency" : "throughput", o.size, rate,
                    rate * static_cast<double>(o.size) / 1e9, cpu);
        if (!lat_json.empty()) std::printf("latency (us): %s\n", lat_json.c_str());
    }
    return received > 0 ? 0 : 1;
}

double number(std::string_view name, const char* v) {
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d > 0)) {
        throw std::invalid_argument(std::string(name) + " must be a positive number");
    }
    return d;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    try {
        if (argc < 2) throw std::invalid_argument("a mode is required");
        const std::string_view mode = argv[1];
        if (mode == "-h" || mode == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (mode != "throughput" && mode != "latency")
            throw std::invalid_argument("unknown mode " + std::string(mode));
        o.latency = mode == "latency";
        o.size = o.latency ? 16 : 65536;
        for (int i = 2; i < argc; ++i) {
            const std::string_view a = argv[i];
            auto value = [&]() -> const char* {
                if (i + 1 >= argc) throw std::invalid_argument(std::string(a) + " needs a value");
                return argv[++i];
            };
            if (a == "--size") {
                const double s = number(a, value());
                if (s < 8 || s > 64.0 * 1024 * 1024)
                    throw std::invalid_argument("--size must be 8..67108864");
                o.size = static_cast<std::size_t>(s);
            } else if (a == "--duration") {
                o.duration = std::min(number(a, value()), 3600.0);
            } else if (a == "--rate") {
                o.rate = std::min(number(a, value()), 1e6);
            } else if (a == "--spin") {
                o.spin = true;
            } else if (a == "--json") {
                o.json = true;
            } else {
                throw std::invalid_argument("unknown option " + std::string(a));
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "warren-floor: %s\n%s", e.what(), usage);
        return 2;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "warren-floor: %s\n", e.what());
        return 1;
    }
}
