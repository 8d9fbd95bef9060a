// Runs the libFuzzer entry point (tests/fuzz/frame_parser_target.hpp) over the golden frames and
// a few thousand seeded mutations of them, so every compiler exercises it on every test run.

#include "fuzz/frame_parser_target.hpp"
#include "protocol/golden_frames.hpp"
#include "protocol/test_util.hpp"

#include <doctest/doctest.h>
#include <random>
#include <span>
#include <string>
#include <vector>

using namespace warren::protocol;
using namespace warren::protocol::test;

namespace {

std::vector<std::string> corpus() {
    std::vector<std::string> out;
    for (auto frames : {std::span<const golden_frame>(golden_client),
                        std::span<const golden_frame>(golden_server),
                        std::span<const golden_frame>(golden_errors)}) {
        std::string stream;
        for (const auto& f : frames) {
            out.push_back(from_hex(f.hex));
            stream += out.back();
        }
        out.push_back(stream);
    }
    for (unsigned seed : {0u, 1u}) {
        for (const auto& m : all_samples(seed)) {
            std::string frame;
            append_method_frame(frame, 1, m);
            out.push_back(frame);
        }
    }
    return out;
}

bool run(char control, std::string_view input) {
    std::string data(1, control);
    data += input;
    return fuzz::run_frame_parser_input(reinterpret_cast<const std::uint8_t*>(data.data()),
                                        data.size());
}

std::string mutate(std::string s, const std::vector<std::string>& pool, std::mt19937& rng) {
    auto pick = [&rng](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n)(rng);
    };
    const std::size_t steps = 1 + pick(3);
    for (std::size_t i = 0; i < steps; ++i) {
        const std::size_t at = s.empty() ? 0 : pick(s.size() - 1);
        switch (pick(7)) {
            case 0:  // flip one bit
                if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << pick(7)));
                break;
            case 1:  // random byte
                if (!s.empty()) s[at] = static_cast<char>(pick(255));
                break;
            case 2:  // insert a byte
                s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(pick(255)));
                break;
            case 3:  // delete a run
                if (!s.empty()) s.erase(at, 1 + pick(7));
                break;
            case 4:  // truncate
                s.resize(at);
                break;
            case 5:  // a hostile or tiny 32-bit length
                if (s.size() >= at + 4) {
                    const char* value = pick(1) != 0 ? "\xff\xff\xff\xf0" : "\x00\x00\x00\x02";
                    s.replace(at, 4, value, 4);
                }
                break;
            case 6:  // a table/array type tag
                if (!s.empty()) s[at] = "FAxSUl?"[pick(6)];
                break;
            default:  // splice in another corpus entry
                s.insert(at, pool[pick(pool.size() - 1)]);
                break;
        }
    }
    return s;
}

}  // namespace

TEST_CASE("fuzz smoke: the corpus passes with every control byte") {
    const auto pool = corpus();
    for (const auto& s : pool) {
        for (int control : {0, 1, 7, 31, 0x80, 0x9f}) CHECK(run(static_cast<char>(control), s));
    }
}

TEST_CASE("fuzz smoke: seeded mutations never break an invariant") {
    const auto pool = corpus();
    std::mt19937 rng(0x57a22e1);
    std::uniform_int_distribution<int> control(0, 255);
    int failures = 0;
    for (int i = 0; i < 10000; ++i) {
        const auto& base = pool[static_cast<std::size_t>(i) % pool.size()];
        const std::string input = mutate(base, pool, rng);
        const bool ok = run(static_cast<char>(control(rng)), input);
        if (!ok && failures++ < 5) FAIL_CHECK("invariant broken for input ", to_hex(input));
    }
    CHECK(failures == 0);
}
