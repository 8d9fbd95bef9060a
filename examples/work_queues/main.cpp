// RabbitMQ tutorial 2, "Work Queues": new_task puts time-consuming tasks (one second per dot in
// the tutorial, 20 ms here) on the durable queue "task_queue" as persistent messages; two
// workers share them. Each worker takes one task at a time (prefetch 1, fair dispatch) and acks
// it only when done, so a task is never lost to a worker that dies.
// Self-check: every task was done exactly once, and both workers did some of them.
// Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct tally {
    std::size_t expected = 0;
    std::vector<std::string> done;               // every task done, by any worker
    std::map<std::string, std::size_t> done_by;  // worker name -> tasks done
};

asio::awaitable<void> new_task(warren::connection& conn, std::vector<std::string> tasks) {
    auto ch = co_await conn.open_channel({.confirms = true});
    co_await ch.declare_queue("task_queue", {.durable = true});
    co_await ch.purge_queue("task_queue");  // leftovers of an earlier, failed run
    for (const auto& task : tasks) {
        co_await ch.publish("", "task_queue", task, {.persistent = true});
        std::cout << " [x] Sent " << task << '\n';
    }
}

asio::awaitable<void> worker(warren::connection& conn, std::string name, tally& t) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("task_queue", {.durable = true});
    co_await ch.set_prefetch(1);  // don't give a worker a new task before it acked the last one
    auto tasks = co_await ch.consume("task_queue");
    std::cout << " [*] " << name << " waiting for tasks\n";
    while (t.done.size() < t.expected) {
        auto d = co_await tasks.next();
        examples::expect(d.has_value(), "the consumer was not cancelled");
        std::cout << " [x] " << name << " received " << d->body() << '\n';
        co_await examples::sleep(20ms * std::count(d->body().begin(), d->body().end(), '.'));
        co_await d->ack();
        std::cout << " [x] " << name << " done\n";
        t.done.push_back(d->body());
        ++t.done_by[name];
    }
}

asio::awaitable<void> run(examples::app& app) {
    std::vector<std::string> tasks{"First message.",     "Second message..",   "Third message...",
                                   "Fourth message....", "Fifth message.....", "Sixth message.",
                                   "Seventh message..",  "Eighth message..."};
    auto producer = co_await app.connect();
    co_await new_task(producer, tasks);

    tally t{.expected = tasks.size(), .done = {}, .done_by = {}};
    auto conn_a = co_await app.connect();
    auto conn_b = co_await app.connect();
    // The worker that finishes the last task returns; first_of then stops the other one.
    co_await examples::first_of(worker(conn_a, "worker A", t), worker(conn_b, "worker B", t));

    std::sort(tasks.begin(), tasks.end());
    std::sort(t.done.begin(), t.done.end());
    examples::expect(t.done == tasks, "every task was done exactly once");
    examples::expect(t.done_by["worker A"] > 0 && t.done_by["worker B"] > 0,
                     "both workers got tasks (fair dispatch)");
    std::cout << " [=] worker A did " << t.done_by["worker A"] << " tasks, worker B "
              << t.done_by["worker B"] << '\n';
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
