#pragma once
// A store driven as the broker drives it, on a real temp dir, with a hand-run executor.

#include <warren/broker/broker.hpp>
#include <warren/broker/vhost.hpp>
#include <warren/store/store.hpp>

#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace warren::test {

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char tmpl[] = "/tmp/warren-store-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

/// Stands in for the broker's executor: the store posts, the test runs.
struct manual_executor {
    std::mutex mu;
    std::vector<std::function<void()>> queued;

    void post(std::function<void()> f) {
        std::lock_guard lk(mu);
        queued.push_back(std::move(f));
    }
    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            std::vector<std::function<void()>> now;
            {
                std::lock_guard lk(mu);
                now.swap(queued);
            }
            for (auto& f : now) f();
            if (done()) return true;
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        return true;
    }
};

inline std::size_t count_segments(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir / "segments")) {
        if (e.path().extension() == ".seg") ++n;
    }
    return n;
}

inline broker::message make_message(std::uint64_t id, std::string body) {
    broker::message m;
    m.id = id;
    m.exchange = "";
    m.routing_key = "q";
    m.properties.delivery_mode = 2;
    m.encoded_properties = std::string("\x10\x00\x02", 3);
    m.body = std::move(body);
    return m;
}

struct store_harness {
    temp_dir dir;
    manual_executor ex;
    std::vector<std::string> logged;
    std::unique_ptr<broker::broker> b;
    std::unique_ptr<store::store> s;
    store::recovery_stats stats;

    store::recovery_stats open(std::uint64_t segment_size = 64ull << 20) {
        close();
        b = std::make_unique<broker::broker>();
        store::store_options o;
        o.dir = dir.path;
        o.segment_size = segment_size;
        o.post = [this](std::function<void()> f) { ex.post(std::move(f)); };
        o.log = [this](std::string_view line) { logged.emplace_back(line); };
        s = std::make_unique<store::store>(std::move(o));
        stats = s->recover(*b);
        b->set_persistence(s.get());
        return stats;
    }
    void close() {
        if (s) s->close();
        if (b) b->set_persistence(nullptr);
        s.reset();
        b.reset();
    }
    ~store_harness() { close(); }

    std::uint32_t declare(const std::string& name) {
        broker::queue_definition d{"/", name, {}};
        d.options.durable = true;
        return s->queue_declared(d);
    }
    void enqueue(std::uint32_t q, std::uint64_t id, std::string body) {
        const auto m = make_message(id, std::move(body));
        const std::uint32_t qs[] = {q};
        s->enqueued(m, qs);
    }
    void sync() {
        bool done = false;
        s->when_durable([&] { done = true; });
        REQUIRE(ex.run_until([&] { return done; }));
    }
    /// Pops everything from a recovered queue: (id, body, redelivered).
    std::vector<broker::queued_message> drain(const std::string& name) {
        std::vector<broker::queued_message> out;
        auto q = b->find_vhost("/")->find_queue(name);
        if (!q) return out;
        while (auto m = q->pop()) out.push_back(std::move(*m));
        return out;
    }
};

}  // namespace warren::test
