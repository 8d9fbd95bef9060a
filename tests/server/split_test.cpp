// Recorded client sessions (tests/server/recordings: pika and amqplib against warren-broker),
// replayed into a session cut at every byte offset: the answers and the broker's state must be
// those of the unsplit stream (tests/fuzz/session_target.hpp states the oracle).
#include "fuzz/session_target.hpp"
#include "support/amqp_recording.hpp"

#include <algorithm>
#include <cstdlib>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using warren::server::fuzz::outcome;
using warren::server::fuzz::run;

namespace {

std::string recording(const char* name) {
    return warren::test::load_recording(std::string(WARREN_RECORDINGS_DIR) + "/" + name);
}

bool has_method(const outcome& r, std::uint16_t class_id, std::uint16_t method_id) {
    const std::string ids{static_cast<char>(class_id >> 8), static_cast<char>(class_id),
                          static_cast<char>(method_id >> 8), static_cast<char>(method_id)};
    for (const auto& f : r.frames) {
        if (f[0] == 1 && f.substr(f.find(':') + 1, 4) == ids) return true;
    }
    return false;
}

/// The unsplit replay went as recorded: no error, the client's close answered.
void check_reference(const outcome& r) {
    REQUIRE(r.well_formed);
    CHECK(r.finished);
    CHECK_FALSE(has_method(r, 10, 50));  // connection.close from the server: an error
    CHECK_FALSE(has_method(r, 20, 40));  // channel.close from the server: an error
    CHECK(has_method(r, 10, 51));        // the close-ok of the client's connection.close
    CHECK(r.frames.size() > 100);
}

/// Every byte offset of `input` is a cut point: run r cuts at r, r + stride, r + 2 * stride ...
/// (half of the runs through the in-place path), and the first `two_piece` offsets are also
/// tried as the only cut. WARREN_SPLIT_EXHAUSTIVE=1 tries every offset as the only cut (about a
/// minute per recording in a debug build).
void check_every_offset(const std::string& input) {
    const auto reference = run(input, {}, false);
    check_reference(reference);
    constexpr std::size_t stride = 61;
    const char* env = std::getenv("WARREN_SPLIT_EXHAUSTIVE");
    const std::size_t two_piece = env && std::string(env) == "1" ? input.size() : 1500;
    std::size_t mismatches = 0;
    std::string first;
    auto check = [&](const std::vector<std::size_t>& cuts, bool in_place, const std::string& what) {
        if (run(input, cuts, in_place) == reference) return;
        if (mismatches++ == 0) first = what;
    };
    for (std::size_t r = 1; r <= stride; ++r) {
        std::vector<std::size_t> cuts;
        for (std::size_t k = r; k < input.size(); k += stride) cuts.push_back(k);
        check(cuts, r % 2 == 1,
              "cuts every " + std::to_string(stride) + " from " + std::to_string(r));
    }
    for (std::size_t k = 1; k < std::min(two_piece, input.size()); ++k) {
        check({k}, k % 2 == 1, "one cut at " + std::to_string(k));
    }
    CAPTURE(first);
    CHECK(mismatches == 0);
}

void check_pieces(const std::string& input) {
    const auto reference = run(input, {}, false);
    for (std::size_t piece : {1, 2, 3, 7, 64, 1000, 4104}) {
        std::vector<std::size_t> cuts;
        for (std::size_t k = piece; k < input.size(); k += piece) cuts.push_back(k);
        CAPTURE(piece);
        CHECK(run(input, cuts, false) == reference);
        CHECK(run(input, cuts, true) == reference);
    }
}

}  // namespace

TEST_CASE("a recorded pika session cut at every byte offset answers as the unsplit one") {
    check_every_offset(recording("pika_session.txt"));
}

TEST_CASE("a recorded amqplib session cut at every byte offset answers as the unsplit one") {
    check_every_offset(recording("amqplib_session.txt"));
}

TEST_CASE("recorded sessions fed in pieces of 1 to 4104 bytes answer as the unsplit ones") {
    check_pieces(recording("pika_session.txt"));
    check_pieces(recording("amqplib_session.txt"));
}
