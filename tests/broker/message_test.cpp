// acquire_message / reserve_body: messages and large body buffers are recycled per thread,
// within their bounds, and a recycled message is as good as a new one.
#include <warren/broker/message.hpp>

#include <doctest/doctest.h>
#include <string>
#include <thread>
#include <vector>

using warren::broker::acquire_message;
using warren::broker::message;
using warren::broker::reserve_body;
using warren::broker::take_released_bytes;

namespace {

// Publishes (as the session does) a message with a body of `n` bytes of `fill`.
std::shared_ptr<message> make(std::size_t n, char fill) {
    auto m = acquire_message();
    reserve_body(*m, n);
    m->body.append(n, fill);
    return m;
}

}  // namespace

TEST_CASE("a large body buffer released on a thread is reused by the next large body there") {
    auto m = make(65536, 'a');
    const char* buffer = m->body.data();
    m.reset();
    auto n = make(65536, 'b');
    CHECK(n->body.data() == buffer);
    CHECK(n->body == std::string(65536, 'b'));
    CHECK(n->exchange.empty());
    CHECK(n->routing_key.empty());
    CHECK(n->no_properties() == false);  // no encoded properties yet: a fresh message
    CHECK(n->properties == warren::protocol::basic_properties{});
}

TEST_CASE("reserve_body takes the most recently released buffer that is large enough") {
    auto big = make(200000, 'x');
    auto mid = make(65536, 'y');
    const char* big_buffer = big->body.data();
    const char* mid_buffer = mid->body.data();
    big.reset();
    mid.reset();                 // released last
    auto a = make(100000, 'z');  // too large for the 64 KiB one
    CHECK(a->body.data() == big_buffer);
    auto b = make(5000, 'w');
    CHECK(b->body.data() == mid_buffer);
    CHECK(b->body == std::string(5000, 'w'));
}

TEST_CASE("small bodies and bodies over 1 MiB do not take or keep large buffers") {
    auto m = make(65536, 'a');
    const char* buffer = m->body.data();
    m.reset();
    auto s = make(100, 's');  // a small body is not given a 64 KiB buffer
    CHECK(s->body.data() != buffer);
    CHECK(s->body.capacity() < 65536);
    auto l = make(std::size_t{2} << 20, 'l');  // over the bound: its own allocation, freed after
    CHECK(l->body.data() != buffer);
    take_released_bytes();
    l.reset();
    CHECK(take_released_bytes() >= (std::size_t{2} << 20));
    auto again = make(65536, 'c');  // the 64 KiB buffer is still there
    CHECK(again->body.data() == buffer);
}

TEST_CASE(
    "the body cache is bounded: 32 buffers, 8 MiB per thread; the rest goes back to the heap") {
    // A fresh thread: its caches start empty. released bytes count the whole process, and no
    // other thread frees messages during the test.
    std::size_t freed_count = 0, freed_bytes = 0, kept_after = 0;
    std::thread([&] {
        take_released_bytes();
        std::vector<std::shared_ptr<message>> held;
        for (int i = 0; i < 40; ++i) held.push_back(make(65536, 'q'));
        held.clear();  // 40 x 64 KiB released: 32 kept, 8 freed
        freed_count = take_released_bytes();

        for (int i = 0; i < 32; ++i) held.push_back(make(65536, 'q'));  // takes the 32 back
        std::vector<std::shared_ptr<message>> big;
        for (int i = 0; i < 12; ++i) big.push_back(make(1000000, 'r'));
        take_released_bytes();
        big.clear();  // 8 x 1,000,000 fit in 8 MiB, 4 go back
        freed_bytes = take_released_bytes();
        held.clear();  // room for 5 more of 64 KiB: 388,608 bytes left
        kept_after = take_released_bytes();
    }).join();
    CHECK(freed_count >= 8 * 65536);
    CHECK(freed_count < 9 * 65536);
    CHECK(freed_bytes >= 4 * 1000000);
    CHECK(freed_bytes < 5 * 1000000);
    CHECK(kept_after >= 27 * 65536);
    CHECK(kept_after < 28 * 65536);
}

TEST_CASE("buffers are per thread: another thread does not take this thread's buffer") {
    auto m = make(65536, 'a');
    const char* buffer = m->body.data();
    m.reset();
    const char* other = nullptr;
    std::thread([&] {
        auto t = make(65536, 't');
        other = t->body.data();
    }).join();
    CHECK(other != buffer);
    auto again = make(65536, 'b');
    CHECK(again->body.data() == buffer);
}

TEST_CASE(
    "a message released on another thread leaves its buffer there (or frees it), never corrupts") {
    auto m = make(65536, 'a');
    std::thread([m = std::move(m)]() mutable { m.reset(); }).join();
    auto n = make(65536, 'b');
    CHECK(n->body == std::string(65536, 'b'));
}
