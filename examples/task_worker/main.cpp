// A task worker on warren::worker: bounded concurrency, delayed retries through the broker with
// exponential backoff, dead-lettering after the last attempt, graceful shutdown.
//
//   example_task_worker [--uri U] [--queue jobs] [--concurrency 4] [--max-attempts 3]
//                       [--retry-delay-ms 200] [--drain-ms 10000] [--quorum]
//
// Tasks (message bodies) on <queue>:
//   ok:<id>          publishes <id> to <queue>.done (persistent, confirmed), then acks
//   fail:<n>:<id>    throws on attempts 1..n, then behaves like ok
//   sleep:<ms>:<id>  waits <ms> (a timer: the thread stays free), then behaves like ok
// Failed attempts are retried after retry-delay-ms x 2^(attempt-1) (+-20 % jitter); after
// max-attempts failures a task goes to <queue>.dlq with x-exception-message, x-attempts,
// x-original-exchange and x-original-routing-key. Anything else is dead-lettered at once.
//
// Without --uri: an embedded broker, sample tasks, a check of <queue>.done and <queue>.dlq.
// With --uri: serves until SIGINT/SIGTERM, then drains (--drain-ms) and exits 0.
#include "../common/service_example.hpp"

#include <warren/service/worker.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct settings {
    std::string queue;
    std::uint16_t concurrency = 4;
    unsigned max_attempts = 3;
    std::chrono::milliseconds retry_delay{200};
    std::chrono::milliseconds drain{10000};
    bool quorum = false;
};

/// Splits "a:b:c" into at most `parts` fields (the last takes the rest).
std::vector<std::string> fields(const std::string& s, std::size_t parts) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (out.size() + 1 < parts) {
        const auto colon = s.find(':', pos);
        if (colon == std::string::npos) break;
        out.push_back(s.substr(pos, colon - pos));
        pos = colon + 1;
    }
    out.push_back(s.substr(pos));
    return out;
}

std::uint64_t to_number(const std::string& s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
        throw std::invalid_argument("not a number: " + s);
    return v;
}

asio::awaitable<warren::verdict> handle_task(warren::message_context& m,
                                             const std::string& done_queue) {
    const auto& body = m.body();
    std::string id;
    if (body.starts_with("ok:")) {
        id = body.substr(3);
    } else if (body.starts_with("fail:")) {
        auto f = fields(body, 3);
        std::uint64_t n = 0;
        try {
            n = f.size() == 3 ? to_number(f[1]) : throw std::invalid_argument("fail:<n>:<id>");
        } catch (const std::exception&) {
            co_return warren::verdict::dead_letter("malformed task '" + body +
                                                   "': expected fail:<n>:<id>");
        }
        if (m.attempt() <= n) {
            std::cout << " [!] " << body << ": attempt " << m.attempt() << " fails" << std::endl;
            throw std::runtime_error("simulated failure on attempt " + std::to_string(m.attempt()) +
                                     " of " + body);
        }
        id = f[2];
    } else if (body.starts_with("sleep:")) {
        auto f = fields(body, 3);
        std::uint64_t ms = 0;
        try {
            ms = f.size() == 3 ? to_number(f[1]) : throw std::invalid_argument("sleep:<ms>:<id>");
        } catch (const std::exception&) {
            co_return warren::verdict::dead_letter("malformed task '" + body +
                                                   "': expected sleep:<ms>:<id>");
        }
        co_await examples::pause(std::chrono::milliseconds(ms));
        id = f[2];
    } else {
        co_return warren::verdict::dead_letter("unknown task '" + body +
                                               "' (expected ok:, fail: or sleep:)");
    }
    warren::basic_properties p;
    p.delivery_mode = 2;
    co_await m.publish("", done_queue, id, std::move(p));  // confirmed before the task is acked
    std::cout << " [x] " << body << " done (attempt " << m.attempt() << ")" << std::endl;
    co_return warren::verdict::ack();
}

asio::awaitable<void> declare_queues(warren::connection& conn, const settings& s) {
    auto ch = co_await conn.open_channel();
    auto args =
        s.quorum ? warren::field_table().with("x-queue-type", "quorum") : warren::field_table();
    const std::vector<std::string> queues{s.queue, s.queue + ".done", s.queue + ".dlq"};
    for (const auto& q : queues) {
        co_await ch.declare_queue(q, {.durable = true}, args);
    }
    co_await ch.close();
}

warren::worker_options worker_settings(const settings& s) {
    warren::worker_options o;
    o.queues = {s.queue};
    o.prefetch = s.concurrency;
    o.concurrency = s.concurrency;
    o.retry = warren::retry_policy::exponential(s.max_attempts, s.retry_delay);
    o.quorum = s.quorum;
    o.drain_timeout = s.drain;
    return o;
}

asio::awaitable<void> serve(examples::broker_choice& broker, warren::graceful_shutdown& shutdown,
                            settings s) {
    auto conn = co_await broker.connect();
    co_await declare_queues(conn, s);
    warren::worker w{conn, worker_settings(s)};
    shutdown.add(w);
    const auto done_queue = s.queue + ".done";
    std::cout << " [*] waiting for tasks on '" << s.queue << "' (concurrency " << s.concurrency
              << ")" << std::endl;
    co_await w.run(
        [&done_queue](warren::message_context& m) { return handle_task(m, done_queue); });
    const auto st = w.stats();
    std::cout << " [*] stopped: " << st.succeeded << " done, " << st.retried << " retried, "
              << st.dead_lettered << " dead-lettered, " << st.requeued << " requeued" << std::endl;
    co_await conn.close();
}

/// Everything that arrives on `queue` until `count` messages came (or 30 s passed).
asio::awaitable<std::vector<warren::delivery>> collect(warren::channel& ch, std::string queue,
                                                       std::size_t count) {
    auto stream = co_await ch.consume(std::move(queue), {.no_ack = true});
    std::vector<warren::delivery> got;
    while (got.size() < count)
        got.push_back(std::move(*co_await warren::with_timeout(stream.next(), 30s)));
    co_return got;
}

std::string header_text(const warren::delivery& d, const char* name) {
    const auto& h = d.properties().headers;
    const auto* v = h ? h->find(name) : nullptr;
    if (v == nullptr) return "<missing>";
    if (const auto* s = v->as_string()) return *s;
    if (auto i = v->as_integer()) return std::to_string(*i);
    return "<other>";
}

asio::awaitable<void> self_check(examples::broker_choice& broker, settings s) {
    auto conn = co_await broker.connect();
    co_await declare_queues(conn, s);
    const std::vector<std::string> tasks{"ok:a",     "ok:b",        "fail:1:c", "fail:2:d",
                                         "fail:9:e", "sleep:100:f", "garbage"};
    {
        auto ch = co_await conn.open_channel({.confirms = true});
        for (const auto& t : tasks) co_await ch.publish("", s.queue, t, {.persistent = true});
    }
    warren::worker w{conn, worker_settings(s)};
    const auto done_queue = s.queue + ".done";
    auto results = co_await conn.open_channel();
    using namespace boost::asio::experimental::awaitable_operators;
    auto checker = [](warren::channel& ch, settings cfg,
                      warren::worker& wk) -> asio::awaitable<void> {
        struct stop_at_end {
            warren::worker& w;
            ~stop_at_end() { w.stop(); }
        } guard{wk};
        auto done = co_await collect(ch, cfg.queue + ".done", 5);
        auto dead = co_await collect(ch, cfg.queue + ".dlq", 2);
        std::vector<std::string> ids;
        for (auto& d : done) ids.push_back(d.body());
        std::sort(ids.begin(), ids.end());
        examples::check(ids == std::vector<std::string>{"a", "b", "c", "d", "f"},
                        "every good task is done once");
        std::sort(dead.begin(), dead.end(),
                  [](const auto& x, const auto& y) { return x.body() < y.body(); });
        examples::check(dead[0].body() == "fail:9:e" && dead[1].body() == "garbage",
                        "the bad tasks are in the DLQ");
        examples::check(header_text(dead[0], "x-attempts") == std::to_string(cfg.max_attempts),
                        "x-attempts counts every attempt");
        examples::check(
            header_text(dead[0], "x-exception-message").find("simulated failure on attempt") == 0,
            "x-exception-message is the error");
        examples::check(header_text(dead[0], "x-original-routing-key") == cfg.queue &&
                            header_text(dead[0], "x-original-exchange").empty(),
                        "x-original-exchange/routing-key name where the task was first published");
        examples::check(header_text(dead[1], "x-attempts") == "1",
                        "an unknown task is not retried");
        std::cout << " [=] done: a b c d f; dead-lettered: fail:9:e after " << cfg.max_attempts
                  << " attempts (" << header_text(dead[0], "x-exception-message")
                  << "), garbage at once" << std::endl;
    };
    co_await (w.run([&done_queue](warren::message_context& m) {
        return handle_task(m, done_queue);
    }) && checker(results, s, w));
    const auto st = w.stats();
    // c fails once, d twice, e on every attempt (retried max-1 times, then dead-lettered).
    examples::check(st.succeeded == 5 && st.dead_lettered == 2 &&
                        st.retried == 3 + (s.max_attempts - 1) &&
                        st.failed == 3 + s.max_attempts + 1,
                    "the worker's counters agree");
    std::cout << " [=] counters: received " << st.received << ", succeeded " << st.succeeded
              << ", failed " << st.failed << ", retried " << st.retried << ", dead-lettered "
              << st.dead_lettered << std::endl;
    co_await conn.close();
}

}  // namespace

int main(int argc, char** argv) {
    return examples::main_with(
        argc, argv,
        {{"queue", "jobs"},
         {"concurrency", "4"},
         {"max-attempts", "3"},
         {"retry-delay-ms", "200"},
         {"drain-ms", "10000"}},
        {"quorum"},
        "usage: example_task_worker [--uri U]... [--queue jobs] [--concurrency 4] [--max-attempts "
        "3] "
        "[--retry-delay-ms 200] [--drain-ms 10000] [--quorum]",
        [](const examples::options& o) {
            settings s;
            s.queue = o.text("queue");
            s.concurrency = static_cast<std::uint16_t>(
                std::clamp<std::uint64_t>(o.number("concurrency"), 1, 65535));
            s.max_attempts =
                static_cast<unsigned>(std::clamp<std::uint64_t>(o.number("max-attempts"), 1, 1000));
            s.retry_delay = std::chrono::milliseconds(o.number("retry-delay-ms"));
            s.drain = std::chrono::milliseconds(o.number("drain-ms"));
            s.quorum = o.flag("quorum");
            asio::io_context io;
            examples::broker_choice broker{io, o};
            warren::graceful_shutdown shutdown{io};
            if (o.serving()) return examples::run(io, serve(broker, shutdown, s));
            if (s.max_attempts < 3 || s.max_attempts > 9) {
                throw std::invalid_argument(
                    "the self-check (no --uri) needs --max-attempts between 3 and 9");
            }
            shutdown.on_shutdown([&io] { io.stop(); });
            return examples::run(io, self_check(broker, s));
        });
}
