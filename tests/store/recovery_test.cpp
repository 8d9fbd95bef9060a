// Torn and corrupt tails: recovery keeps every complete record before the damage.
#include "store_fixture.hpp"

#include <warren/store/record.hpp>

#include <fstream>
#include <random>

using namespace warren;
using test::store_harness;

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::filesystem::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::filesystem::path only_segment(const std::filesystem::path& dir) {
    std::filesystem::path found;
    for (const auto& e : std::filesystem::directory_iterator(dir / "segments")) found = e.path();
    return found;
}

/// End offsets of the records in a segment file.
std::vector<std::size_t> record_ends(const std::string& file) {
    std::vector<std::size_t> ends;
    std::size_t off = store::segment_magic.size();
    store::record_view rec;
    while (store::parse_record(std::string_view(file).substr(off), rec) ==
           store::parse_status::ok) {
        off += rec.size;
        ends.push_back(off);
    }
    return ends;
}

std::string body_for(std::uint64_t id) {
    return std::string(50 + (id * 37) % 400, static_cast<char>('a' + id % 26));
}

/// A store holding messages 1..n in one queue, closed; returns the segment's bytes.
std::string write_sample(store_harness& h, std::uint64_t n) {
    h.open();
    const auto q = h.declare("q");
    for (std::uint64_t id = 1; id <= n; ++id) h.enqueue(q, id, body_for(id));
    h.sync();
    h.close();
    return slurp(only_segment(h.dir.path));
}

void expect_prefix(store_harness& h, std::size_t n) {
    auto got = h.drain("q");
    REQUIRE(got.size() == n);
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(got[i].msg->id == i + 1);
        CHECK(got[i].msg->body == body_for(i + 1));
    }
}

}  // namespace

TEST_CASE("a torn tail at any offset keeps every complete record before it") {
    store_harness h;
    const auto file = write_sample(h, 40);
    const auto ends = record_ends(file);
    REQUIRE(ends.size() == 40);
    REQUIRE(ends.back() == file.size());
    std::mt19937 rng(1234);
    std::vector<std::size_t> cuts{store::segment_magic.size(), file.size() - 1, ends[0],
                                  ends[0] + 1};
    for (int i = 0; i < 60; ++i)
        cuts.push_back(store::segment_magic.size() + rng() % (file.size() - 8));
    const auto seg = only_segment(h.dir.path);
    for (auto cut : cuts) {
        CAPTURE(cut);
        spit(seg, file.substr(0, cut));
        h.logged.clear();
        auto st = h.open();
        const auto complete = static_cast<std::size_t>(
            std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
        CHECK(st.messages == complete);
        const bool at_boundary =
            cut == store::segment_magic.size() || std::binary_search(ends.begin(), ends.end(), cut);
        CHECK(st.damaged_records == (at_boundary ? 0u : 1u));
        CHECK(h.logged.size() == (at_boundary ? 0u : 1u));
        expect_prefix(h, complete);
        h.close();
    }
}

TEST_CASE("a corrupt byte anywhere keeps every record before the damaged one") {
    store_harness h;
    const auto file = write_sample(h, 30);
    const auto ends = record_ends(file);
    const auto seg = only_segment(h.dir.path);
    std::mt19937 rng(99);
    for (int i = 0; i < 60; ++i) {
        const std::size_t at = store::segment_magic.size() + rng() % (file.size() - 8);
        auto bad = file;
        bad[at] = static_cast<char>(bad[at] ^ static_cast<char>(1 + rng() % 255));
        CAPTURE(at);
        spit(seg, bad);
        auto st = h.open();
        const auto damaged =
            static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), at) - ends.begin());
        CHECK(st.messages == damaged);
        CHECK(st.damaged_records == 1);
        expect_prefix(h, damaged);
        h.close();
        if (damaged == 0) {
            CHECK_FALSE(std::filesystem::exists(seg));  // nothing left in it: collected
        } else {
            CHECK(std::filesystem::file_size(seg) == ends[damaged - 1]);
        }
    }
}

TEST_CASE("after a damaged tail the store takes new writes and the next recovery is clean") {
    store_harness h;
    const auto file = write_sample(h, 10);
    const auto ends = record_ends(file);
    spit(only_segment(h.dir.path), file.substr(0, ends[5] + 3));
    auto st = h.open();
    CHECK(st.messages == 6);
    CHECK(st.damaged_records == 1);
    const auto q = h.b->find_vhost("/")->find_queue("q")->store_id();
    CHECK(h.b->next_message_id() == 7);
    for (std::uint64_t id = 7; id <= 10; ++id) h.enqueue(q, id, body_for(id));
    h.sync();
    h.close();
    st = h.open();
    CHECK(st.damaged_records == 0);
    CHECK(st.messages == 10);
    expect_prefix(h, 10);
}

TEST_CASE("damage in an older segment loses only that segment's tail") {
    store_harness h;
    h.open(2048);
    const auto q = h.declare("q");
    for (std::uint64_t id = 1; id <= 30; ++id) h.enqueue(q, id, std::string(300, 'm'));
    h.sync();
    h.close();
    std::vector<std::filesystem::path> segs;
    for (const auto& e : std::filesystem::directory_iterator(h.dir.path / "segments"))
        segs.push_back(e.path());
    std::sort(segs.begin(), segs.end());
    REQUIRE(segs.size() >= 3);
    const auto first = slurp(segs[0]);
    const auto in_first = record_ends(first).size();
    spit(segs[0], first.substr(0, first.size() - 5));
    auto st = h.open(2048);
    CHECK(st.damaged_records == 1);
    CHECK(st.messages == 30 - 1);
    auto got = h.drain("q");
    REQUIRE(got.size() == 29);
    CHECK(got[in_first - 1].msg->id == in_first + 1);
}

TEST_CASE("garbage in the data dir never stops recovery") {
    store_harness h;
    h.open();
    h.declare("q");
    h.sync();
    h.close();
    spit(h.dir.path / "segments" / "0000000009.seg", "junk");
    spit(h.dir.path / "segments" / "notes.txt", "ignored");
    spit(h.dir.path / "definitions.tmp", "half-written");
    auto st = h.open();
    CHECK(st.queues == 1);
    CHECK_FALSE(std::filesystem::exists(h.dir.path / "definitions.tmp"));
    h.close();
    auto defs = slurp(h.dir.path / "definitions");
    spit(h.dir.path / "definitions", defs.substr(0, defs.size() - 3));
    st = h.open();
    CHECK(st.queues == 1);  // the damaged part was the end record
    CHECK_FALSE(h.logged.empty());
}
