// pipeline stages (map, fan_out, computed outputs) and fan_in.
#include "service_support.hpp"

#include <warren/service/pipeline.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <doctest/doctest.h>
#include <set>

using namespace warren;
using namespace warren::test;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

asio::awaitable<std::string> upper(message_context& m) {
    std::string s = m.body();
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    co_return s;
}

/// Splits "a b c" into one output per word, all with the input's correlation id and the
/// number of parts, for the fan-in.
asio::awaitable<std::vector<stage_output>> split(std::string parts_queue, message_context& m) {
    std::vector<std::string> words;
    std::size_t pos = 0;
    const auto& b = m.body();
    while (pos <= b.size()) {
        auto sp = b.find(' ', pos);
        if (sp == std::string::npos) sp = b.size();
        words.push_back(b.substr(pos, sp - pos));
        pos = sp + 1;
    }
    std::vector<stage_output> out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        stage_output o;
        o.routing_key = parts_queue;
        o.body = words[i];
        o.properties.correlation_id = m.properties().correlation_id;
        o.properties.message_id =
            m.properties().correlation_id.value_or("") + "." + std::to_string(i);
        o.properties.headers =
            field_table().with("x-fan-in-parts", static_cast<std::int64_t>(words.size()));
        out.push_back(std::move(o));
    }
    co_return out;
}

asio::awaitable<void> join(std::string result_queue, fan_in_group& g,
                           const fan_in::publish_fn& publish) {
    std::vector<std::string> words;
    for (const auto& p : g.parts) words.push_back(p.body());
    std::sort(words.begin(), words.end());
    std::string joined;
    for (const auto& w : words) joined += (joined.empty() ? "" : "+") + w;
    basic_properties props;
    props.correlation_id = g.correlation_id;
    co_await publish("", result_queue, joined, std::move(props));
}

struct names {
    std::string in, upper, copy_a, copy_b, parts, results;
};

asio::awaitable<void> feed_and_check(connection& conn, names n, pipeline& p, fan_in& f) {
    struct stop_all {
        pipeline& p;
        fan_in& f;
        ~stop_all() {
            p.stop();
            f.stop();
        }
    } guard{p, f};
    auto ch = co_await conn.open_channel({.confirms = true});
    for (const char* s : {"one two three", "four five"}) {
        basic_properties props;
        props.correlation_id = std::string("c-") + s;
        co_await ch.publish("", n.in, s, std::move(props), {.persistent = true});
    }
    auto results = co_await ch.consume(n.results, {.no_ack = true});
    std::set<std::string> got;
    while (got.size() < 2) got.insert((co_await with_timeout(results.next(), 20s))->body());
    CHECK(got == std::set<std::string>{"FIVE+FOUR", "ONE+THREE+TWO"});
    // fan_out: the same result in both queues.
    std::set<std::string> copies;  // copy_a feeds the split stage; copy_b is kept
    while (auto d = co_await ch.get(n.copy_b, {.no_ack = true})) copies.insert(d->body());
    CHECK(copies == std::set<std::string>{"ONE TWO THREE", "FOUR FIVE"});
    CHECK(f.completed_groups() == 2);
    CHECK(f.open_groups() == 0);
}

asio::awaitable<void> stages_and_fan_in(world& w) {
    auto conn = co_await w.connect();
    names n{w.unique("in"),     w.unique("upper"), w.unique("copy-a"),
            w.unique("copy-b"), w.unique("parts"), w.unique("results")};
    pipeline p{conn};
    p.map(n.in, n.upper, upper)
        .fan_out(n.upper, {n.copy_a, n.copy_b},
                 [](message_context& m) -> asio::awaitable<std::string> { co_return m.body(); })
        .stage(n.copy_a, [parts = n.parts](message_context& m) { return split(parts, m); });
    fan_in_options fo;
    fo.queue = n.parts;
    fan_in f{conn, fo};
    auto setup = co_await conn.open_channel();
    // Declared before anything runs: the split stage publishes to `parts` before the fan_in
    // would have declared it, and the broker drops what no queue takes.
    const std::vector<std::string> every{n.in, n.upper, n.copy_a, n.copy_b, n.parts, n.results};
    for (const auto& q : every) co_await setup.declare_queue(q, {.durable = true});
    auto joiner = [results = n.results](fan_in_group& g, const fan_in::publish_fn& pub) {
        return join(results, g, pub);
    };  // named: not a by-value capture inside co_await (GCC 12)
    co_await both(p.run(), both(f.run(joiner), feed_and_check(conn, n, p, f)));
    for (const auto& s : p.stats()) CHECK(s.failed == 0);
    for (const auto& q : every) {
        co_await setup.delete_queue(q);
        co_await setup.delete_queue(q + ".dlq");
    }
}

}  // namespace

TEST_CASE("pipeline: map, fan_out and a computed stage feeding a fan_in") {
    world w;
    w.run(stages_and_fan_in(w));
}
