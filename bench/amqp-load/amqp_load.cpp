// amqp_load (target warren-amqp-load): a small single-threaded AMQP 0-9-1 client on Warren's
// protocol codec, fast enough to stream 100k+ confirmed persistent messages (pika is not). Used
// by the durability tests (tests/durability) and by bench/durability.
//
//   amqp_load publish --port P --queue Q --count N [--size S] [--window W] [--progress FILE]
//       declares durable Q, publishes N persistent messages (body: 8-byte seq, then a pattern)
//       with confirms; FILE always holds the highest confirmed seq. Prints the rate.
//       Exit 0 when all are confirmed, 3 when the connection was lost.
//   amqp_load drain --port P --queue Q [--confirmed C] [--published N]
//       consumes and acks every ready message; checks each body; prints one summary line;
//       exit 1 when a confirmed seq (1..C) is missing, any seq is duplicated or > N, or a body
//       is damaged.
//   amqp_load pump --port P --queue Q --count N [--size S] [--window W]
//       publishes N with confirms on one channel while consuming and acking on another.
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

namespace proto = warren::protocol;

struct lost : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct frame {
    proto::frame_type type;
    std::uint16_t channel;
    std::string payload;
};

class connection {
  public:
    explicit connection(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            throw lost("connect failed");
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(fd_, F_SETFL, O_NONBLOCK);
        out_.append(proto::protocol_header);
        expect<proto::connection_start>(0);
        proto::connection_start_ok so;
        so.response = std::string("\0guest\0guest", 12);
        send(0, so);
        auto tune = expect<proto::connection_tune>(0);
        frame_max_ = tune.frame_max ? std::min<std::uint32_t>(tune.frame_max, 131072) : 131072;
        send(0, proto::connection_tune_ok{tune.channel_max, frame_max_, 0});
        proto::connection_open open;
        open.virtual_host = "/";
        send(0, open);
        expect<proto::connection_open_ok>(0);
    }
    ~connection() { ::close(fd_); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    template <class M>
    void send(std::uint16_t ch, const M& m) {
        proto::append_method_frame(out_, ch, m);
    }
    void publish(std::uint16_t ch, const std::string& queue, std::string_view body) {
        proto::basic_publish p;
        p.routing_key = queue;
        proto::append_method_frame(out_, ch, p);
        proto::append_content_header_raw(out_, ch, body.size(), persistent_props_);
        proto::append_body_frames(out_, ch, body, frame_max_);
    }
    std::size_t unsent() const { return out_.size() - sent_; }

    /// Writes and reads what the socket allows, waiting up to `timeout_ms` for readiness.
    void pump(int timeout_ms) {
        pollfd p{fd_, static_cast<short>(POLLIN | (unsent() ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) throw lost("poll failed");
        if (p.revents & (POLLOUT | POLLERR | POLLHUP)) write_some();
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) read_some();
    }
    /// The next frame if one is buffered.
    bool poll_frame(frame& f) {
        auto r = parser_.next();
        if (!r) throw std::runtime_error("bad frame from the broker");
        if (!*r) return false;
        f = frame{(*r)->type, (*r)->channel, std::string((*r)->payload)};
        return true;
    }
    frame next_frame() {
        frame f;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!poll_frame(f)) {
            if (std::chrono::steady_clock::now() > deadline)
                throw lost("timeout waiting for the broker");
            pump(100);
        }
        return f;
    }
    template <class M>
    M expect(std::uint16_t ch) {
        for (;;) {
            auto f = next_frame();
            if (f.type != proto::frame_type::method) continue;
            auto m = proto::decode_method(f.payload);
            if (!m) throw std::runtime_error("undecodable method");
            if (auto* want = std::get_if<M>(&*m); want && f.channel == ch) return std::move(*want);
            throw std::runtime_error("unexpected " + std::string(proto::name_of(*m)));
        }
    }

  private:
    void write_some() {
        while (unsent()) {
            auto n = ::send(fd_, out_.data() + sent_, unsent(), MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            if (n < 0) throw lost("send failed");
            sent_ += static_cast<std::size_t>(n);
        }
        if (sent_ == out_.size() || sent_ > (1u << 20)) {
            out_.erase(0, sent_);
            sent_ = 0;
        }
    }
    void read_some() {
        char buf[65536];
        for (;;) {
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n <= 0) throw lost("connection lost");
            parser_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
        }
    }

    int fd_ = -1;
    std::string out_;
    std::size_t sent_ = 0;
    proto::frame_parser parser_;
    std::uint32_t frame_max_ = 131072;
    std::string persistent_props_ = std::string("\x10\x00\x02", 3);  // delivery_mode = 2
};

struct options {
    std::string mode;
    std::uint16_t port = 5672;
    std::string queue = "load";
    std::uint64_t count = 100000;
    std::uint64_t size = 1024;
    std::uint64_t window = 256;
    std::uint64_t confirmed = 0;
    std::uint64_t published = 0;
    std::string progress;
};

std::string make_body(std::uint64_t seq, std::uint64_t size) {
    std::string b(std::max<std::uint64_t>(size, 8), '\0');
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<char>(seq >> (8 * i));
    for (std::size_t i = 8; i < b.size(); ++i) b[i] = static_cast<char>((seq + i) % 251);
    return b;
}

std::uint64_t body_seq(const std::string& b) {
    if (b.size() < 8) return 0;
    std::uint64_t seq = 0;
    for (int i = 0; i < 8; ++i)
        seq |=
            static_cast<std::uint64_t>(static_cast<unsigned char>(b[static_cast<std::size_t>(i)]))
            << (8 * i);
    return seq;
}

bool body_ok(const std::string& b) {
    const auto seq = body_seq(b);
    for (std::size_t i = 8; i < b.size(); ++i) {
        if (b[i] != static_cast<char>((seq + i) % 251)) return false;
    }
    return b.size() >= 8;
}

void open_channel(connection& c, std::uint16_t ch, const std::string& queue, bool confirm) {
    c.send(ch, proto::channel_open{});
    c.expect<proto::channel_open_ok>(ch);
    proto::queue_declare d;
    d.queue = queue;
    d.durable = true;
    c.send(ch, d);
    c.expect<proto::queue_declare_ok>(ch);
    if (confirm) {
        c.send(ch, proto::confirm_select{});
        c.expect<proto::confirm_select_ok>(ch);
    }
}

void write_progress(int fd, std::uint64_t confirmed) {
    char line[32];
    const int n =
        std::snprintf(line, sizeof line, "%020llu\n", static_cast<unsigned long long>(confirmed));
    if (fd >= 0 && ::pwrite(fd, line, static_cast<std::size_t>(n), 0) != n) std::perror("progress");
}

// Handles the frames of a publisher channel (1) and a consumer channel (2).
struct counters {
    std::uint64_t published = 0, confirmed = 0, consumed = 0;
    std::uint64_t pending_body = 0;
    std::string body;
    std::uint64_t last_tag = 0;
};

void on_frame(connection& c, const frame& f, counters& k, int progress_fd) {
    if (f.type == proto::frame_type::method) {
        auto m = proto::decode_method(f.payload);
        if (!m) throw std::runtime_error("undecodable method");
        if (auto* a = std::get_if<proto::basic_ack>(&*m)) {
            k.confirmed = a->multiple ? a->delivery_tag : std::max(k.confirmed, a->delivery_tag);
            write_progress(progress_fd, k.confirmed);
        } else if (std::get_if<proto::basic_nack>(&*m)) {
            throw std::runtime_error("publish nacked");
        } else if (auto* d = std::get_if<proto::basic_deliver>(&*m)) {
            k.last_tag = d->delivery_tag;
        } else if (!std::get_if<proto::basic_consume_ok>(&*m) &&
                   !std::get_if<proto::basic_qos_ok>(&*m)) {
            throw std::runtime_error("unexpected " + std::string(proto::name_of(*m)));
        }
    } else if (f.type == proto::frame_type::header) {
        auto h = proto::decode_content_header(f.payload);
        k.pending_body = h ? h->body_size : 0;
        if (k.pending_body == 0) ++k.consumed;
    } else if (f.type == proto::frame_type::body) {
        k.pending_body -= std::min<std::uint64_t>(k.pending_body, f.payload.size());
        if (k.pending_body == 0) {
            ++k.consumed;
            if (k.consumed % 32 == 0) c.send(2, proto::basic_ack{k.last_tag, true});
        }
    }
}

int run_publish(const options& o, bool consume) {
    connection c(o.port);
    open_channel(c, 1, o.queue, true);
    if (consume) {
        open_channel(c, 2, o.queue, false);
        c.send(2, proto::basic_qos{0, 256, false});
        proto::basic_consume bc;
        bc.queue = o.queue;
        c.send(2, bc);
    }
    int progress_fd =
        o.progress.empty() ? -1 : ::open(o.progress.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_progress(progress_fd, 0);
    counters k;
    const auto t0 = std::chrono::steady_clock::now();
    int rc = 0;
    try {
        while (k.confirmed < o.count || (consume && k.consumed < o.count)) {
            while (k.published < o.count && k.published - k.confirmed < o.window &&
                   c.unsent() < (1u << 18)) {
                c.publish(1, o.queue, make_body(++k.published, o.size));
            }
            c.pump(1000);
            frame f;
            while (c.poll_frame(f)) on_frame(c, f, k, progress_fd);
        }
        if (consume) {
            c.send(2, proto::basic_ack{k.last_tag, true});
            while (c.unsent()) c.pump(1000);
        }
    } catch (const lost& e) {
        std::fprintf(stderr, "amqp_load: %s after %llu published, %llu confirmed\n", e.what(),
                     static_cast<unsigned long long>(k.published),
                     static_cast<unsigned long long>(k.confirmed));
        rc = 3;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "published=%llu confirmed=%llu consumed=%llu seconds=%.3f rate=%.0f\n",
        static_cast<unsigned long long>(k.published), static_cast<unsigned long long>(k.confirmed),
        static_cast<unsigned long long>(k.consumed), secs, static_cast<double>(k.confirmed) / secs);
    if (progress_fd >= 0) ::close(progress_fd);
    return rc;
}

int run_drain(const options& o) {
    connection c(o.port);
    c.send(1, proto::channel_open{});
    c.expect<proto::channel_open_ok>(1);
    proto::queue_declare d;
    d.queue = o.queue;
    d.passive = true;
    c.send(1, d);
    const auto total = c.expect<proto::queue_declare_ok>(1).message_count;
    c.send(1, proto::basic_qos{0, 2000, false});
    c.expect<proto::basic_qos_ok>(1);
    proto::basic_consume bc;
    bc.queue = o.queue;
    c.send(1, bc);
    std::map<std::uint64_t, int> seen;
    std::uint64_t damaged = 0, redelivered = 0, got = 0, tag = 0;
    std::uint64_t body_left = 0;
    std::string body;
    while (got < total) {
        auto f = c.next_frame();
        if (f.type == proto::frame_type::method) {
            auto m = proto::decode_method(f.payload);
            if (auto* dv = m ? std::get_if<proto::basic_deliver>(&*m) : nullptr) {
                tag = dv->delivery_tag;
                redelivered += dv->redelivered ? 1 : 0;
            }
            continue;
        }
        if (f.type == proto::frame_type::header) {
            body_left = proto::decode_content_header(f.payload)->body_size;
            body.clear();
        } else if (f.type == proto::frame_type::body) {
            body += f.payload;
            body_left -= std::min<std::uint64_t>(body_left, f.payload.size());
        }
        if (f.type != proto::frame_type::heartbeat && body_left == 0) {
            ++got;
            if (!body_ok(body)) ++damaged;
            ++seen[body_seq(body)];
            if (got % 500 == 0 || got == total) c.send(1, proto::basic_ack{tag, true});
        }
    }
    while (c.unsent()) c.pump(1000);
    std::uint64_t dups = 0, missing = 0, beyond = 0;
    for (const auto& [seq, n] : seen) {
        dups += static_cast<std::uint64_t>(n - 1);
        if (o.published && seq > o.published) ++beyond;
    }
    for (std::uint64_t s = 1; s <= o.confirmed; ++s) missing += seen.count(s) ? 0 : 1;
    std::printf(
        "count=%llu unique=%zu duplicates=%llu missing=%llu beyond=%llu damaged=%llu "
        "redelivered=%llu\n",
        static_cast<unsigned long long>(got), seen.size(), static_cast<unsigned long long>(dups),
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(beyond),
        static_cast<unsigned long long>(damaged), static_cast<unsigned long long>(redelivered));
    return dups || missing || beyond || damaged ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (argc < 2) {
        std::fprintf(stderr, "usage: amqp_load publish|drain|pump --port P --queue Q ...\n");
        return 2;
    }
    o.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--port")
            o.port = static_cast<std::uint16_t>(std::stoul(v));
        else if (a == "--queue")
            o.queue = v;
        else if (a == "--count")
            o.count = std::stoull(v);
        else if (a == "--size")
            o.size = std::stoull(v);
        else if (a == "--window")
            o.window = std::stoull(v);
        else if (a == "--confirmed")
            o.confirmed = std::stoull(v);
        else if (a == "--published")
            o.published = std::stoull(v);
        else if (a == "--progress")
            o.progress = v;
        else {
            std::fprintf(stderr, "amqp_load: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    try {
        if (o.mode == "publish") return run_publish(o, false);
        if (o.mode == "pump") return run_publish(o, true);
        if (o.mode == "drain") return run_drain(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "amqp_load: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "amqp_load: unknown mode %s\n", o.mode.c_str());
    return 2;
}
