// Replay driver of the session fuzz target for every compiler (ctest runs it): the recorded
// sessions (*.txt from tools/amqp_capture.py) whole, windows of their frames after a canned
// handshake, raw corpus files as they are, and seeded mutations of the windows.
//
//   warren_fuzz_session_replay [--mutations N] [--write-corpus DIR] PATH...
//
// PATH is a file or a directory of files. Exits 1 (printing the input in hex) when the oracle
// of session_target.hpp fails; a crash is a failure too.

#include "fuzz/session_target.hpp"
#include "support/amqp_recording.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace target = warren::server::fuzz;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The frames of a recorded client stream after its protocol header.
std::vector<std::string> frames_of(std::string_view stream) {
    std::vector<std::string> out;
    stream.remove_prefix(std::min(stream.size(), warren::protocol::protocol_header.size()));
    for (;;) {
        const auto r = warren::protocol::parse_frame(stream, 0);
        if (r.ec || r.consumed == 0) break;
        out.emplace_back(stream.substr(0, r.consumed));
        stream.remove_prefix(r.consumed);
    }
    return out;
}

/// Runs of recorded frames to follow the canned handshake: connection methods and the
/// recording's own opening of channel 1 are left out (the handshake opened it).
std::vector<std::string> windows(const std::string& stream) {
    std::vector<std::string> body;
    bool channel_one_open = false;
    for (auto& f : frames_of(stream)) {
        const auto r = warren::protocol::parse_frame(f, 0);
        const auto ids = warren::protocol::peek_method_id(r.frame.payload);
        const bool method = r.frame.type == warren::protocol::frame_type::method && ids;
        if (method && ids->first == 10) continue;
        if (method && r.frame.channel == 1 && ids->first == 20 && ids->second == 10 &&
            !channel_one_open) {
            channel_one_open = true;
            continue;
        }
        body.push_back(std::move(f));
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < body.size(); i += 7) {
        std::string w(1, static_cast<char>(0x80 | (i % 64)));
        for (std::size_t j = i; j < std::min(body.size(), i + 30); ++j) w += body[j];
        out.push_back(std::move(w));
    }
    return out;
}

std::string mutate(std::string s, std::mt19937& rng) {
    auto pick = [&rng](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n)(rng);
    };
    for (std::size_t steps = 1 + pick(3); steps > 0 && s.size() > 1; --steps) {
        const std::size_t at = 1 + pick(s.size() - 2);  // never the control byte
        switch (pick(4)) {
            case 0:
                s[at] = static_cast<char>(s[at] ^ (1 << pick(7)));
                break;
            case 1:
                s[at] = static_cast<char>(pick(255));
                break;
            case 2:
                s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(pick(255)));
                break;
            case 3:
                s.erase(at, 1 + pick(15));
                break;
            default:
                s.resize(at);
                break;
        }
    }
    return s;
}

bool run(const std::string& input) {
    if (target::run_session_input(reinterpret_cast<const std::uint8_t*>(input.data()),
                                  input.size()))
        return true;
    std::cerr << "session oracle failed for input (hex): ";
    for (unsigned char c : input) std::fprintf(stderr, "%02x", c);
    std::cerr << "\n";
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    int mutations = 200;
    fs::path write_corpus;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--mutations" && i + 1 < argc) {
            mutations = std::stoi(argv[++i]);
        } else if (a == "--write-corpus" && i + 1 < argc) {
            write_corpus = argv[++i];
        } else if (fs::is_directory(a)) {
            for (const auto& e : fs::directory_iterator(a)) files.push_back(e.path());
        } else {
            files.emplace_back(a);
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> seeds;
    int failures = 0;
    for (const auto& f : files) {
        if (f.extension() == ".txt") {
            const auto stream = warren::test::load_recording(f.string());
            if (!run(std::string(1, '\x05') + stream)) ++failures;
            for (auto& w : windows(stream)) seeds.push_back(std::move(w));
        } else if (f.extension() != ".py" && f.extension() != ".js" && f.extension() != ".md") {
            seeds.push_back(read_file(f));
        }
    }
    std::mt19937 rng(0x5e55);
    for (std::size_t i = 0; i < seeds.size(); ++i) {
        if (!write_corpus.empty())
            std::ofstream(write_corpus / ("seed-" + std::to_string(i)), std::ios::binary)
                << seeds[i];
        if (!run(seeds[i])) ++failures;
        for (int m = 0; m < mutations; ++m) {
            if (!run(mutate(seeds[i], rng))) ++failures;
        }
    }
    std::cout << "session fuzz replay: " << seeds.size() << " seeds, " << mutations
              << " mutations each, " << failures << " failures\n";
    return failures == 0 ? 0 : 1;
}
