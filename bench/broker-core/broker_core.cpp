// warren-broker-core: the broker's message path on one thread, without sockets or a client.
//
// Two server sessions share one broker: a producer publishes 16-byte messages round robin to
// N queues bound to a direct exchange, and a consumer holds a no-ack consumer on each queue.
// Each step feeds the producer one "read" of publish frames (unless its flow control is on)
// and lets the consumer's "socket" drain a fixed number of bytes; when the consumer drains
// more slowly than the producer publishes, its outbound buffer fills, queues stall and resume,
// and the producer is throttled, as with a real client (bench/compare's 1 -> N queues rows).
// The time per message is the broker's own CPU cost (parse, route, queue, deliver, encode),
// free of the client's and of the scheduling noise of two processes on a shared machine; under
// `valgrind --tool=cachegrind` its instruction and cache-miss counts are repeatable.
//
//   warren-broker-core [--queues N] [--messages M] [--read BYTES] [--drain-ratio R] [--size B]

#include <warren/broker/broker.hpp>
#include <warren/common/log.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>
#include <warren/server/session.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace p = warren::protocol;
namespace server = warren::server;

namespace {

struct options {
    std::size_t queues = 10000;
    std::size_t messages = 5'000'000;
    std::size_t read = std::size_t{64} * 1024;
    double drain_ratio = 0.9;  // consumer bytes drained per step / delivery bytes of one read
    std::size_t size = 16;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "warren-broker-core: %s\n"
                 "usage: warren-broker-core [--queues N] [--messages M] [--read BYTES] "
                 "[--drain-ratio R] [--size B]\n",
                 why);
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) usage("missing value");
        const char* v = argv[++i];
        char* end = nullptr;
        if (a == "--drain-ratio") {
            o.drain_ratio = std::strtod(v, &end);
            if (*end != 0 || !(o.drain_ratio > 0)) usage("--drain-ratio: a positive number");
            continue;
        }
        const auto n = std::strtoull(v, &end, 10);
        if (*end != 0 || n == 0) usage("a positive integer expected");
        if (a == "--queues")
            o.queues = n;
        else if (a == "--messages")
            o.messages = n;
        else if (a == "--read")
            o.read = n;
        else if (a == "--size")
            o.size = n;
        else
            usage("unknown option");
    }
    return o;
}

std::string fixed(const char* prefix, std::size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%06zu", prefix, i);  // equal lengths: equal frame sizes
    return buf;
}

template <class M>
void send(server::session& s, std::uint16_t ch, const M& m) {
    std::string out;
    p::append_method_frame(out, ch, m);
    s.feed(out);
}

void drain(server::session& s) {
    std::string out;
    while (s.take_output(out)) s.output_written(out.size());
}

void open(server::session& s) {
    s.feed(p::protocol_header);
    p::connection_start_ok ok;
    ok.mechanism = "PLAIN";
    ok.response = std::string("\0guest\0guest", 12);
    ok.locale = "en_US";
    send(s, 0, ok);
    p::connection_tune_ok tune;
    tune.channel_max = 2047;
    tune.frame_max = 131072;
    send(s, 0, tune);
    p::connection_open o;
    o.virtual_host = "/";
    send(s, 0, o);
    send(s, 1, p::channel_open{});
    drain(s);
}

struct stats {
    std::size_t steps = 0;
    std::size_t throttled_steps = 0;
};

/// The measured loop (a function of its own: `valgrind --tool=callgrind --toggle-collect=*pump*`
/// counts it alone). Returns false if the deliveries stopped short of `expected` bytes.
[[gnu::noinline]] bool pump(server::session& producer, server::session& consumer,
                            std::string_view input, std::size_t read, std::size_t expected,
                            double drain_per_step, stats& st) {
    std::size_t fed = 0, delivered_bytes = 0;
    double budget = 0;
    std::size_t pending = 0;
    server::session::output
        in_flight;  // taken by the "socket", not yet written (swapped, as the server)
    server::session::output scratch;
    while (delivered_bytes < expected) {
        ++st.steps;
        if (fed < input.size()) {
            if (producer.input_throttled()) {
                ++st.throttled_steps;
            } else {
                const auto n = std::min(read, input.size() - fed);
                producer.feed(input.substr(fed, n));
                fed += n;
            }
        }
        while (producer.take_output(scratch)) producer.output_written(scratch.size());
        // The consumer's socket: the whole pending output is one write, reported written once
        // the drain budget covers it (as the server's write loop).
        budget += drain_per_step;
        for (;;) {
            if (pending == 0) {
                if (!consumer.take_output(in_flight)) break;
                pending = in_flight.size();
            }
            if (budget < static_cast<double>(pending)) break;
            budget -= static_cast<double>(pending);
            delivered_bytes += pending;
            consumer.output_written(std::exchange(pending, 0));
        }
        if (pending == 0 && fed >= input.size() && !consumer.has_output() &&
            delivered_bytes < expected && budget >= drain_per_step) {
            std::fprintf(stderr, "warren-broker-core: stuck: %zu of %zu bytes delivered\n",
                         delivered_bytes, expected);
            return false;
        }
        if (pending == 0)
            budget = std::min(budget, drain_per_step);  // an idle socket saves nothing up
    }
    if (delivered_bytes != expected) {
        std::fprintf(stderr, "warren-broker-core: %zu bytes delivered, %zu expected\n",
                     delivered_bytes, expected);
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    warren::set_log_level(warren::log_level::none);
    warren::broker::broker brk;
    server::session producer{brk, server::session_options{}, "producer", true};
    server::session consumer{brk, server::session_options{}, "consumer", true};
    open(producer);
    open(consumer);

    const std::string exchange = "perf-direct";
    p::exchange_declare xd;
    xd.exchange = exchange;
    xd.type = "direct";
    send(consumer, 1, xd);
    for (std::size_t q = 0; q < o.queues; ++q) {
        p::queue_declare d;
        d.queue = fixed("perf-q", q);
        send(consumer, 1, d);
        p::queue_bind b;
        b.queue = d.queue;
        b.exchange = exchange;
        b.routing_key = d.queue;
        send(consumer, 1, b);
        p::basic_consume c;
        c.queue = d.queue;
        c.consumer_tag = fixed("ctag-", q);
        c.no_ack = true;
        send(consumer, 1, c);
        drain(consumer);
    }

    // The producer's input: one publish (method, header, body frames) per message.
    const std::string body(o.size, 'x');
    std::string input;
    for (std::size_t i = 0; i < o.messages; ++i) {
        p::basic_publish pub;
        pub.exchange = exchange;
        pub.routing_key = fixed("perf-q", i % o.queues);
        p::append_method_frame(input, 1, pub);
        p::append_content_header(input, 1, p::content_header{60, body.size(), {}});
        p::append_body_frames(input, 1, body, 131072);
    }
    // One delivery's size on the wire, from a probe message through queue 0.
    std::size_t delivery_bytes = 0;
    {
        std::string one;
        p::basic_publish pub;
        pub.exchange = exchange;
        pub.routing_key = fixed("perf-q", 0);
        p::append_method_frame(one, 1, pub);
        p::append_content_header(one, 1, p::content_header{60, body.size(), {}});
        p::append_body_frames(one, 1, body, 131072);
        producer.feed(one);
        std::string out;
        consumer.take_output(out);
        consumer.output_written(out.size());
        delivery_bytes = out.size();
        if (delivery_bytes == 0) {
            std::fprintf(stderr, "warren-broker-core: the probe message was not delivered\n");
            return 1;
        }
    }
    const double publish_bytes =
        static_cast<double>(input.size()) / static_cast<double>(o.messages);
    const double drain_per_step = o.drain_ratio * static_cast<double>(o.read) / publish_bytes *
                                  static_cast<double>(delivery_bytes);

    stats st;
    const auto t0 = std::chrono::steady_clock::now();
    if (!pump(producer, consumer, input, o.read, o.messages * delivery_bytes, drain_per_step, st))
        return 1;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("queues %zu  messages %zu  size %zu  read %zu  drain-ratio %.2f\n", o.queues,
                o.messages, o.size, o.read, o.drain_ratio);
    std::printf("%.3f s  %.0f k msg/s  %.1f ns/msg  steps %zu (producer throttled in %zu)\n", s,
                static_cast<double>(o.messages) / s / 1e3,
                s * 1e9 / static_cast<double>(o.messages), st.steps, st.throttled_steps);
    return 0;
}
