// A durable priority queue (x-max-priority) comes back from the store in priority order.
#include "store_fixture.hpp"

#include <warren/protocol/properties.hpp>

using namespace warren;
using test::store_harness;

TEST_CASE("a recovered priority queue delivers by priority, FIFO within one") {
    store_harness h;
    h.open();
    broker::queue_definition d{"/", "pq", {}};
    d.options.durable = true;
    d.options.arguments.add("x-max-priority", std::int32_t{5});
    const auto q = h.s->queue_declared(d);
    std::uint64_t id = 1;
    for (auto [prio, body] : std::vector<std::pair<int, std::string>>{
             {-1, "n0"}, {1, "p1"}, {9, "p9"}, {3, "p3"}, {5, "p5"}, {-1, "n1"}, {1, "p1b"}}) {
        auto m = test::make_message(id++, body);
        if (prio >= 0) m.properties.priority = static_cast<std::uint8_t>(prio);
        m.encoded_properties.clear();
        protocol::encode_properties(m.properties, m.encoded_properties);
        const std::uint32_t qs[] = {q};
        h.s->enqueued(m, qs);
    }
    h.sync();
    h.open();
    REQUIRE(h.b->find_vhost("/")->find_queue("pq")->max_priority() == 5);
    std::vector<std::string> got;
    for (const auto& m : h.drain("pq")) got.push_back(m.msg->body);
    CHECK(got == std::vector<std::string>{"p9", "p5", "p3", "p1", "p1b", "n0", "n1"});
}
