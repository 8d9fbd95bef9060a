// The per-thread pools that received deliveries' strings go back to (framework/client/detail).
#include "detail/string_pool.hpp"

#include <doctest/doctest.h>
#include <string>
#include <thread>
#include <vector>

using warren::detail::give_string;
using warren::detail::pooled;
using warren::detail::take_string;

namespace {
// Empties this thread's pool of `kind`; returns how many strings it held.
std::size_t drain(pooled kind) {
    std::size_t n = 0;
    while (take_string(kind).capacity() > 15) ++n;
    return n;
}
}  // namespace

TEST_CASE("string pool: a given string's buffer comes back empty, per kind") {
    drain(pooled::name);
    drain(pooled::body);
    std::string s(100, 'x');
    const char* buffer = s.data();
    give_string(pooled::body, std::move(s));
    CHECK(take_string(pooled::name).capacity() <= 15);  // the other kind is empty
    std::string back = take_string(pooled::body);
    CHECK(back.empty());
    CHECK(back.capacity() >= 100);
    CHECK(back.data() == buffer);
    CHECK(take_string(pooled::body).capacity() <= 15);  // taken once only
}

TEST_CASE("string pool: inline, large and surplus strings are not kept") {
    drain(pooled::name);
    give_string(pooled::name, std::string("short"));
    give_string(pooled::name, std::string(5000, 'x'));
    CHECK(drain(pooled::name) == 0);
    for (int i = 0; i < 5000; ++i) give_string(pooled::name, std::string(40, 'n'));
    CHECK(drain(pooled::name) == 4096);
}

TEST_CASE("string pool: each thread has its own") {
    drain(pooled::name);
    give_string(pooled::name, std::string(64, 'a'));
    std::size_t other = 99;
    std::thread t([&] {
        other = drain(pooled::name);
        give_string(pooled::name, std::string(64, 'b'));  // freed with that thread's pool
    });
    t.join();
    CHECK(other == 0);
    CHECK(drain(pooled::name) == 1);
}

TEST_CASE("string pool: at most 4 MiB of buffers per thread") {
    drain(pooled::body);
    for (int i = 0; i < 2000; ++i) give_string(pooled::body, std::string(4000, 'b'));
    const std::size_t kept = drain(pooled::body);
    CHECK(kept < 2000);
    CHECK(kept * 4000 <= (std::size_t{4} << 20));
    CHECK(kept * 4001 > (std::size_t{4} << 20) - 4096);
}
