// rmqc-perf: an independent AMQP 0-9-1 load generator on rabbitmq-c (librabbitmq), so that
// Warren and RabbitMQ can be measured with a client that is neither's own.
//
// Producers and consumers are threads, each with its own connection. Consumers read raw frames
// (no envelope allocation) and count complete messages; producers publish as fast as they can,
// or keep at most --confirm W unconfirmed messages in flight. Every loop ends at the deadline.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/time.h>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr const char* usage = R"(usage: rmqc-perf [options]
  --host H            broker address (default 127.0.0.1)
  --port N            broker port (default 5672)
  --producers N       producer threads (default 1)
  --consumers N       consumer threads (default 1)
  --queues N          queues rmqc-perf-<pid>-<i>; producer/consumer i use queue i % N (default 1)
  --size B            message body size in bytes (default 16)
  --duration S        seconds to run (default 10)
  --auto-ack          consume with no-ack (default: manual acks)
  --prefetch N        basic.qos prefetch per consumer (default 100; 0 = unlimited)
  --multi-ack N       ack with multiple=true every N deliveries (default 1)
  --confirm W         publisher confirms, at most W unconfirmed (default 0: no confirms)
  --persistent        delivery-mode 2 and durable queues
  --rate R            publish at most R msg/s per producer (default 0: as fast as possible)
  --json              print the result as one JSON object
)";

struct options {
    std::string host = "127.0.0.1";
    int port = 5672;
    int producers = 1;
    int consumers = 1;
    int queues = 1;
    std::size_t size = 16;
    double duration = 10;
    bool auto_ack = false;
    int prefetch = 100;
    int multi_ack = 1;
    int confirm = 0;
    bool persistent = false;
    double rate = 0;
    bool json = false;
};

struct shared_state {
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> confirmed{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<int> failures{0};
    std::atomic<bool> stop{false};
    std::atomic<int> consumers_ready{0};
};

std::string queue_name(int i) {
    return "rmqc-perf-" + std::to_string(getpid()) + "-" + std::to_string(i);
}

void check_reply(amqp_rpc_reply_t r, const char* what) {
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        throw std::runtime_error(std::string(what) + " failed");
}

void check_status(int status, const char* what) {
    if (status < 0) throw std::runtime_error(std::string(what) + ": " + amqp_error_string2(status));
}

class connection {
  public:
    explicit connection(const options& o) : state_(amqp_new_connection()) {
        amqp_socket_t* sock = amqp_tcp_socket_new(state_);
        if (!sock) throw std::runtime_error("cannot create socket");
        timeval tv{5, 0};
        check_status(amqp_socket_open_noblock(sock, o.host.c_str(), o.port, &tv), "connect");
        check_reply(amqp_login(state_, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
                    "login");
        amqp_channel_open(state_, 1);
        check_reply(amqp_get_rpc_reply(state_), "channel.open");
    }
    ~connection() {
        amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(state_);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    amqp_connection_state_t get() const noexcept { return state_; }

    void declare(const std::string& q, bool durable) {
        amqp_queue_declare(state_, 1, amqp_cstring_bytes(q.c_str()), 0, durable ? 1 : 0, 0, 0,
                           amqp_empty_table);
        check_reply(amqp_get_rpc_reply(state_), "queue.declare");
    }

  private:
    amqp_connection_state_t state_;
};

// Waits for one frame until `deadline`; returns false on timeout, throws on error.
bool wait_frame(amqp_connection_state_t c, amqp_frame_t& f, clock_type::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock_type::now());
    if (left.count() <= 0) left = std::chrono::microseconds(1);
    timeval tv{static_cast<time_t>(left.count() / 1000000),
               static_cast<suseconds_t>(left.count() % 1000000)};
    int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return false;
    check_status(rc, "wait frame");
    return true;
}

void consumer_thread(const options& o, int index, shared_state& st,
                     clock_type::time_point deadline) {
    try {
        connection conn(o);
        auto c = conn.get();
        const auto q = queue_name(index % o.queues);
        conn.declare(q, o.persistent);
        if (!o.auto_ack && o.prefetch > 0) {
            amqp_basic_qos(c, 1, 0, static_cast<std::uint16_t>(o.prefetch), 0);
            check_reply(amqp_get_rpc_reply(c), "basic.qos");
        }
        amqp_basic_consume(c, 1, amqp_cstring_bytes(q.c_str()), amqp_empty_bytes, 0,
                           o.auto_ack ? 1 : 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(c), "basic.consume");
        ++st.consumers_ready;
        std::uint64_t last_tag = 0, unacked = 0, local = 0;
        std::uint64_t body_left = 0;
        amqp_frame_t f;
        while (!st.stop.load(std::memory_order_relaxed) && wait_frame(c, f, deadline)) {
            bool complete = false;
            if (f.frame_type == AMQP_FRAME_METHOD &&
                f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
                last_tag =
                    static_cast<amqp_basic_deliver_t*>(f.payload.method.decoded)->delivery_tag;
            } else if (f.frame_type == AMQP_FRAME_HEADER) {
                body_left = f.payload.properties.body_size;
                complete = body_left == 0;
            } else if (f.frame_type == AMQP_FRAME_BODY) {
                body_left -= std::min<std::uint64_t>(body_left, f.payload.body_fragment.len);
                complete = body_left == 0;
            }
            if (complete) {
                ++local;
                if ((local & 255) == 0) {
                    st.received.fetch_add(256, std::memory_order_relaxed);
                }
                if (!o.auto_ack && ++unacked >= static_cast<std::uint64_t>(o.multi_ack)) {
                    check_status(amqp_basic_ack(c, 1, last_tag, o.multi_ack > 1 ? 1 : 0),
                                 "basic.ack");
                    unacked = 0;
                }
            }
            amqp_maybe_release_buffers(c);
        }
        st.received.fetch_add(local & 255, std::memory_order_relaxed);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rmqc-perf: consumer %d: %s\n", index, e.what());
        ++st.failures;
    }
}

void producer_thread(const options& o, int index, shared_state& st,
                     clock_type::time_point deadline) {
    try {
        connection conn(o);
        auto c = conn.get();
        const auto q = queue_name(index % o.queues);
        conn.declare(q, o.persistent);
        if (o.confirm > 0) {
            amqp_confirm_select(c, 1);
            check_reply(amqp_get_rpc_reply(c), "confirm.select");
        }
        std::string body(o.size, 'x');
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.delivery_mode = o.persistent ? 2 : 1;
        const amqp_bytes_t key = amqp_cstring_bytes(q.c_str());
        const amqp_bytes_t payload{body.size(), body.data()};
        const auto window = static_cast<std::uint64_t>(o.confirm);
        std::uint64_t published = 0, acked = 0, reported = 0;
        amqp_frame_t f;
        const auto started = clock_type::now();
        while (!st.stop.load(std::memory_order_relaxed) && clock_type::now() < deadline) {
            // Publish a small batch between clock reads; at a fixed rate, wait for the next slot.
            int batch = 32;
            if (o.rate > 0) {
                const auto due =
                    started +
                    std::chrono::duration_cast<clock_type::duration>(
                        std::chrono::duration<double>(static_cast<double>(published) / o.rate));
                std::this_thread::sleep_until(std::min(due, deadline));
                batch = 1;
            }
            for (int i = 0; i < batch; ++i) {
                if (window > 0 && published - acked >= window) break;
                check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, key, 0, 0, &props, payload),
                             "basic.publish");
                ++published;
            }
            st.sent.fetch_add(published - reported, std::memory_order_relaxed);
            reported = published;
            while (window > 0 && published - acked >= window) {
                if (!wait_frame(c, f, deadline)) break;
                if (f.frame_type == AMQP_FRAME_METHOD &&
                    f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                    acked = static_cast<amqp_basic_ack_t*>(f.payload.method.decoded)->delivery_tag;
                }
                amqp_maybe_release_buffers(c);
            }
        }
        st.confirmed.fetch_add(acked, std::memory_order_relaxed);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rmqc-perf: producer %d: %s\n", index, e.what());
        ++st.failures;
    }
}

bool parse_args(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc)
                throw std::invalid_argument("option " + std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--host")
            o.host = value();
        else if (a == "--port")
            o.port = std::atoi(value());
        else if (a == "--producers")
            o.producers = std::atoi(value());
        else if (a == "--consumers")
            o.consumers = std::atoi(value());
        else if (a == "--queues")
            o.queues = std::max(1, std::atoi(value()));
        else if (a == "--size")
            o.size = static_cast<std::size_t>(std::atol(value()));
        else if (a == "--duration")
            o.duration = std::atof(value());
        else if (a == "--auto-ack")
            o.auto_ack = true;
        else if (a == "--prefetch")
            o.prefetch = std::atoi(value());
        else if (a == "--multi-ack")
            o.multi_ack = std::max(1, std::atoi(value()));
        else if (a == "--confirm")
            o.confirm = std::atoi(value());
        else if (a == "--persistent")
            o.persistent = true;
        else if (a == "--json")
            o.json = true;
        else if (a == "--rate")
            o.rate = std::atof(value());
        else if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return false;
        } else {
            throw std::invalid_argument("unknown option " + std::string(a));
        }
    }
    if (o.duration <= 0 || o.duration > 3600)
        throw std::invalid_argument("--duration must be in (0, 3600]");
    if (o.prefetch < 0 || o.prefetch > 65535)
        throw std::invalid_argument("--prefetch must be 0..65535");
    return true;
}

void delete_queues(const options& o) {
    try {
        connection conn(o);
        for (int i = 0; i < o.queues; ++i) {
            amqp_queue_delete(conn.get(), 1, amqp_cstring_bytes(queue_name(i).c_str()), 0, 0);
            check_reply(amqp_get_rpc_reply(conn.get()), "queue.delete");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rmqc-perf: cleanup: %s\n", e.what());
    }
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    try {
        if (!parse_args(argc, argv, o)) return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rmqc-perf: %s\n%s", e.what(), usage);
        return 2;
    }
    shared_state st;
    const auto duration =
        std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration));
    std::vector<std::thread> threads;
    // Consumers first, so that nothing published is missed; they end a little after producers.
    auto setup_deadline = clock_type::now() + std::chrono::seconds(10);
    auto consumer_deadline = clock_type::now() + duration + std::chrono::seconds(12);
    threads.reserve(static_cast<std::size_t>(o.consumers) + static_cast<std::size_t>(o.producers));
    for (int i = 0; i < o.consumers; ++i) {
        threads.emplace_back(consumer_thread, std::cref(o), i, std::ref(st), consumer_deadline);
    }
    while (st.consumers_ready.load() + st.failures.load() < o.consumers &&
           clock_type::now() < setup_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const auto start = clock_type::now();
    const auto end = start + duration;
    std::uint64_t recv_at_start = st.received.load();
    for (int i = 0; i < o.producers; ++i) {
        threads.emplace_back(producer_thread, std::cref(o), i, std::ref(st), end);
    }
    std::uint64_t last = 0;
    auto next_tick = start + std::chrono::seconds(1);
    while (clock_type::now() < end && st.failures.load() == 0) {
        std::this_thread::sleep_until(std::min(next_tick, end));
        if (clock_type::now() >= next_tick && !o.json) {
            auto r = st.received.load();
            std::fprintf(stderr, "rmqc-perf: sent %llu, received %llu msg/s\n",
                         static_cast<unsigned long long>(st.sent.load()),
                         static_cast<unsigned long long>(r - last));
            last = r;
            next_tick += std::chrono::seconds(1);
        }
    }
    const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    const std::uint64_t received = st.received.load() - recv_at_start;
    st.stop = true;
    for (auto& t : threads) t.join();
    delete_queues(o);
    const std::uint64_t sent = st.sent.load();
    const double send_rate = static_cast<double>(sent) / secs;
    const double recv_rate = static_cast<double>(received) / secs;
    if (o.json) {
        std::printf(
            "{\"sent\": %llu, \"confirmed\": %llu, \"received\": %llu, \"seconds\": %.3f, "
            "\"send_rate\": %.1f, \"receive_rate\": %.1f, \"size\": %zu, \"failures\": %d}\n",
            static_cast<unsigned long long>(sent),
            static_cast<unsigned long long>(st.confirmed.load()),
            static_cast<unsigned long long>(received), secs, send_rate, recv_rate, o.size,
            st.failures.load());
    } else {
        std::printf("sent %llu (%.0f msg/s), received %llu (%.0f msg/s, %.1f MB/s) in %.2f s\n",
                    static_cast<unsigned long long>(sent), send_rate,
                    static_cast<unsigned long long>(received), recv_rate,
                    recv_rate * static_cast<double>(o.size) / 1e6, secs);
    }
    return st.failures.load() == 0 ? 0 : 1;
}
