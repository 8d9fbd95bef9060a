// A three-stage pipeline on warren::pipeline, over durable queues with persistent messages.
//
//   example_pipeline [--uri U]
//
// pipeline.in -> stage 1 -> pipeline.1 -> stage 2 -> pipeline.2 -> stage 3 -> pipeline.out;
// stage k appends "|k" to the body, so "a" becomes "a|1|2|3". Each stage acks its input only
// after its output was confirmed by the broker: kill the process at any moment and restart it,
// and every input still reaches pipeline.out (some perhaps twice: at-least-once).
//
// Without --uri: an embedded broker, 200 inputs, a check that pipeline.out got each one as
// "<input>|1|2|3". With --uri: serves until SIGINT/SIGTERM, drains, exits 0.
#include "../common/service_example.hpp"

#include <warren/service/pipeline.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <set>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> queues{"pipeline.in", "pipeline.1", "pipeline.2", "pipeline.out"};

asio::awaitable<std::string> append_1(warren::message_context& m) { co_return m.body() + "|1"; }
asio::awaitable<std::string> append_2(warren::message_context& m) { co_return m.body() + "|2"; }
asio::awaitable<std::string> append_3(warren::message_context& m) { co_return m.body() + "|3"; }

void build(warren::pipeline& p) {
    p.map(queues[0], queues[1], append_1)
        .map(queues[1], queues[2], append_2)
        .map(queues[2], queues[3], append_3);
}

asio::awaitable<void> declare_all(warren::connection& conn) {
    auto ch = co_await conn.open_channel();
    for (const auto& q : queues) co_await ch.declare_queue(q, {.durable = true});
    co_await ch.close();
}

asio::awaitable<void> serve(examples::broker_choice& broker, warren::graceful_shutdown& shutdown) {
    auto conn = co_await broker.connect();
    co_await declare_all(conn);
    warren::pipeline p{conn};
    build(p);
    shutdown.add(p);
    std::cout << " [*] pipeline running: pipeline.in -> 1 -> 2 -> 3 -> pipeline.out" << std::endl;
    co_await p.run();
    const auto st = p.stats();
    std::cout << " [*] stopped; handled per stage:";
    for (const auto& s : st) std::cout << ' ' << s.succeeded;
    std::cout << std::endl;
    co_await conn.close();
}

asio::awaitable<void> self_check(examples::broker_choice& broker) {
    auto conn = co_await broker.connect();
    co_await declare_all(conn);
    constexpr int inputs = 200;
    {
        auto ch = co_await conn.open_channel({.confirms = true});
        for (int i = 0; i < inputs; ++i)
            co_await ch.publish("", "pipeline.in", "m" + std::to_string(i), {.persistent = true});
    }
    warren::pipeline p{conn};
    build(p);
    auto results = co_await conn.open_channel();
    auto check_outputs = [](warren::channel& ch, warren::pipeline& pl) -> asio::awaitable<void> {
        struct stop_at_end {
            warren::pipeline& p;
            ~stop_at_end() { p.stop(); }
        } guard{pl};
        auto out = co_await ch.consume("pipeline.out", {.no_ack = true});
        std::set<std::string> got;
        while (got.size() < inputs) {
            auto d = co_await warren::with_timeout(out.next(), 30s);
            examples::check(d.has_value(), "the output consumer was not cancelled");
            examples::check(d->properties().delivery_mode == std::uint8_t{2},
                            "outputs are persistent");
            got.insert(d->body());
        }
        for (int i = 0; i < inputs; ++i) {
            examples::check(got.count("m" + std::to_string(i) + "|1|2|3") == 1,
                            "m" + std::to_string(i) + " went through");
        }
        std::cout << " [=] " << inputs << " inputs, " << got.size() << " outputs, e.g. m0 -> "
                  << *got.begin() << std::endl;
    };
    using namespace boost::asio::experimental::awaitable_operators;
    co_await (p.run() && check_outputs(results, p));
    const auto st = p.stats();
    for (const auto& s : st)
        examples::check(s.succeeded == inputs && s.failed == 0,
                        "every stage handled each input once");
    co_await conn.close();
}

}  // namespace

int main(int argc, char** argv) {
    return examples::main_with(argc, argv, {}, {}, "usage: example_pipeline [--uri U]...",
                               [](const examples::options& o) {
                                   asio::io_context io;
                                   examples::broker_choice broker{io, o};
                                   warren::graceful_shutdown shutdown{io};
                                   if (o.serving())
                                       return examples::run(io, serve(broker, shutdown));
                                   shutdown.on_shutdown([&io] { io.stop(); });
                                   return examples::run(io, self_check(broker));
                               });
}
