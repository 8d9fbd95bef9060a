#include <warren/store/definitions.hpp>

#include <doctest/doctest.h>

using namespace warren;

namespace {

store::definitions sample() {
    store::definitions d;
    broker::exchange_definition x{"/", "logs", broker::exchange_kind::topic, {}};
    x.options.durable = true;
    x.options.internal = true;
    x.options.arguments.set("alternate-exchange", std::string("ae"));
    d.add_exchange(x);
    broker::queue_definition q{"/", "jobs", {}};
    q.options.durable = true;
    q.options.arguments.set("x-max-length", std::int32_t{10});
    CHECK(d.add_queue(q) == 1);
    q.name = "other";
    CHECK(d.add_queue(q) == 2);
    d.remove_queue(1);
    d.add_binding({"/", "logs", "other", true, "a.#", {}});
    d.add_binding({"/", "logs", "other", true, "a.#", {}});  // duplicate: ignored
    d.add_binding({"v2", "amq.topic", "logs", false, "k", {}});
    return d;
}

}  // namespace

TEST_CASE("definitions round-trip, and queue ids are never reused") {
    const auto d = sample();
    store::definitions back;
    std::string problem;
    REQUIRE(store::decode_definitions(store::encode_definitions(d), back, problem));
    CHECK(back.next_queue_id == 3);
    REQUIRE(back.exchanges.size() == 1);
    const auto& x = back.exchanges.begin()->second;
    CHECK(x.name == "logs");
    CHECK(x.kind == broker::exchange_kind::topic);
    CHECK(x.options.durable);
    CHECK(x.options.internal);
    CHECK_FALSE(x.options.auto_delete);
    CHECK(x.options.arguments == d.exchanges.begin()->second.options.arguments);
    REQUIRE(back.queues.size() == 1);
    CHECK(back.queues.begin()->first == 2);
    CHECK(back.queues.begin()->second.name == "other");
    CHECK(back.queues.begin()->second.options.arguments ==
          d.queues.begin()->second.options.arguments);
    REQUIRE(back.bindings.size() == 2);
    CHECK(back.bindings[1].vhost == "v2");
    CHECK_FALSE(back.bindings[1].destination_is_queue);
}

TEST_CASE("a damaged definitions file keeps what precedes the damage") {
    const auto file = store::encode_definitions(sample());
    for (std::size_t cut = 0; cut < file.size(); ++cut) {
        store::definitions back;
        std::string problem;
        CAPTURE(cut);
        CHECK_FALSE(
            store::decode_definitions(std::string_view(file).substr(0, cut), back, problem));
        CHECK_FALSE(problem.empty());
    }
}
