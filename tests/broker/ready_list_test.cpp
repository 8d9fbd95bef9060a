// ready_list on its own (included first: the header is self-contained).
#include <warren/broker/ready_list.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace warren;

namespace {

broker::queued_message qm(std::uint64_t seq, std::string body, std::optional<std::uint8_t> prio = {}) {
    auto m = std::make_shared<broker::message>();
    m->body = std::move(body);
    m->properties.priority = prio;
    return broker::queued_message{std::move(m), seq, false};
}

std::vector<std::string> drain(broker::ready_list& r) {
    std::vector<std::string> out;
    while (!r.empty()) out.push_back(r.pop_front().msg->body);
    return out;
}

}  // namespace

TEST_CASE("ready_list without priorities is FIFO and counts messages and body bytes") {
    broker::ready_list r;
    CHECK(r.max_priority() == 0);
    r.push_back(qm(1, "aa", 9));
    r.push_back(qm(2, "b"));
    r.push_back(qm(3, "ccc", 1));
    CHECK(r.size() == 3);
    CHECK(r.bytes() == 6);
    CHECK(r.front().msg->body == "aa");
    auto head = r.pop_front();
    CHECK(r.bytes() == 4);
    r.insert_by_seq(std::move(head));
    CHECK(drain(r) == std::vector<std::string>{"aa", "b", "ccc"});
    CHECK(r.bytes() == 0);
}

TEST_CASE("ready_list with priorities: highest level first, FIFO within, requeue by seq") {
    broker::ready_list r(3);
    CHECK(r.max_priority() == 3);
    r.push_back(qm(1, "low", 1));
    r.push_back(qm(2, "none"));
    r.push_back(qm(3, "top", 200));  // above max: counts as max
    r.push_back(qm(4, "three", 3));
    r.push_back(qm(5, "low2", 1));
    CHECK(r.front().msg->body == "top");
    auto a = r.pop_front();
    auto b = r.pop_front();
    CHECK(r.front().msg->body == "low");
    r.push_back(qm(6, "three2", 3));
    r.insert_by_seq(std::move(b));
    r.insert_by_seq(std::move(a));
    std::vector<std::string> seen;
    r.for_each([&](const broker::queued_message& m) { seen.push_back(m.msg->body); });
    CHECK(seen == std::vector<std::string>{"top", "three", "three2", "low", "low2", "none"});
    CHECK(drain(r) == seen);
    r.push_back(qm(7, "x", 2));
    r.clear();
    CHECK(r.empty());
    CHECK(r.bytes() == 0);
}
