// ready_list on its own (included first: the header is self-contained).
#include <warren/broker/ready_list.hpp>

#include <doctest/doctest.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace warren;

namespace {

broker::queued_message qm(std::uint64_t seq, std::string body,
                          std::optional<std::uint8_t> prio = {}) {
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

TEST_CASE("message_fifo: inline slots, wrap-around, growth, requeue into the middle, release") {
    broker::message_fifo f;
    std::weak_ptr<const broker::message> first;
    // Wrap around the two inline slots a few times.
    for (std::uint64_t i = 0; i < 7; ++i) {
        f.push_back(qm(i, std::to_string(i)));
        if (i == 0) first = f.front().msg;
        if (i % 2 == 1) {
            CHECK(f.pop_front().seq == i - 1);
            CHECK(f.pop_front().seq == i);
        }
    }
    CHECK(first.expired());  // popped messages are released, not kept in a slot
    CHECK(f.size() == 1);
    // Grow from the wrapped inline ring to the heap, in order.
    for (std::uint64_t i = 7; i < 200; ++i) f.push_back(qm(i, std::to_string(i)));
    REQUIRE(f.size() == 194);
    for (std::size_t i = 0; i < f.size(); ++i) REQUIRE(f[i].seq == 6 + i);
    // Requeue: in front, and into the middle after the head moved (the ring has wrapped).
    for (int i = 0; i < 50; ++i) f.pop_front();
    f.push_front(qm(3, "3"));
    f.insert(10, qm(1000, "x"));
    CHECK(f.front().seq == 3);
    CHECK(f[10].seq == 1000);
    CHECK(f[9].seq == 64);
    CHECK(f[11].seq == 65);
    std::weak_ptr<const broker::message> last = f[f.size() - 1].msg;
    f.clear();
    CHECK(f.empty());
    CHECK(last.expired());
    // Usable again after a clear (back to the inline slots).
    f.push_back(qm(1, "a"));
    f.push_back(qm(2, "b"));
    CHECK(f.pop_front().msg->body == "a");
    CHECK(f.pop_front().msg->body == "b");
}

TEST_CASE("ready_list requeues by seq into a long, wrapped level") {
    broker::ready_list r;
    for (std::uint64_t i = 1; i <= 100; ++i) r.push_back(qm(i, std::to_string(i)));
    std::vector<broker::queued_message> taken;
    for (int i = 0; i < 60; ++i) taken.push_back(r.pop_front());
    for (std::uint64_t i = 101; i <= 140; ++i) r.push_back(qm(i, std::to_string(i)));
    // Back in any order: each returns to its place.
    r.insert_by_seq(std::move(taken[30]));
    r.insert_by_seq(std::move(taken[59]));
    r.insert_by_seq(std::move(taken[0]));
    REQUIRE(r.size() == 83);
    auto out = drain(r);
    CHECK(out.front() == "1");
    CHECK(out[1] == "31");
    CHECK(out[2] == "60");
    CHECK(out[3] == "61");
    CHECK(out.back() == "140");
}
