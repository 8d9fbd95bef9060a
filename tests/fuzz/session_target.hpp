#pragma once
// The body of the session fuzz target, shared by the libFuzzer binary (fuzz_session.cpp, clang
// only), its replay driver (replay_session.cpp, every compiler, run by ctest over a corpus) and
// the split tests (tests/server/split_test.cpp).
//
// The oracle: a session that receives a byte stream in one piece and one that receives it cut
// anywhere must answer the same and leave the broker in the same state. Publisher confirms are
// compared as the set of tags acknowledged per channel, because the session coalesces the acks
// of one input batch into one basic.ack(multiple). The broker's clock and names are fixed, so
// runs are repeatable. Output must always be whole, well-formed frames.

#include <warren/broker/broker.hpp>
#include <warren/broker/vhost.hpp>
#include <warren/common/log.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/protocol/frame.hpp>
#include <warren/server/session.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::server::fuzz {

/// What a session answered and left behind.
struct outcome {
    std::vector<std::string> frames;  ///< type, channel and payload of every frame but confirms
    std::map<std::uint16_t, std::set<std::uint64_t>> acked;  ///< publisher confirms, per channel
    bool well_formed = true;                                 ///< the output parsed as whole frames
    bool finished = false;
    std::string state;              ///< the broker's queues after the input
    std::string state_after_close;  ///< ... and after the transport closed
    bool operator==(const outcome&) const = default;
};

namespace detail {

inline std::string describe(const broker::broker& b) {
    std::vector<std::string> lines;
    const auto* vh = b.find_vhost("/");
    vh->for_each_queue([&](const broker::queue& q) {
        lines.push_back(q.name() + " ready=" + std::to_string(q.ready_count()) +
                        " bytes=" + std::to_string(q.ready_bytes()) +
                        " consumers=" + std::to_string(q.consumer_count()));
    });
    std::sort(lines.begin(), lines.end());
    std::string s = "exchanges=" + std::to_string(vh->exchange_count()) + "\n";
    for (const auto& l : lines) s += l + "\n";
    return s;
}

/// Splits the server's output into frames (after the protocol header a server sends to a client
/// that spoke another protocol); confirms (basic.ack from a server) go to `acked`.
inline void collect(std::string_view out, outcome& r) {
    std::map<std::uint16_t, std::uint64_t> last;       // highest confirmed tag per channel
    if (out.starts_with(protocol::protocol_header)) {  // the answer to a bad protocol header
        r.frames.emplace_back(protocol::protocol_header);
        out.remove_prefix(protocol::protocol_header.size());
    }
    while (!out.empty()) {
        const auto p = protocol::parse_frame(out, 0);
        if (p.ec || p.consumed == 0) {
            r.well_formed = false;
            return;
        }
        out.remove_prefix(p.consumed);
        const auto& f = p.frame;
        const auto ids = protocol::peek_method_id(f.payload);
        if (f.type == protocol::frame_type::method && ids &&
            *ids == std::pair<std::uint16_t, std::uint16_t>{60, 80}) {
            const auto m = protocol::decode_method(f.payload);
            const auto* ack = m ? std::get_if<protocol::basic_ack>(&*m) : nullptr;
            if (ack) {
                auto& seen = r.acked[f.channel];
                for (auto t = ack->multiple ? last[f.channel] + 1 : ack->delivery_tag;
                     t <= ack->delivery_tag; ++t) {
                    seen.insert(t);
                }
                last[f.channel] = std::max(last[f.channel], ack->delivery_tag);
                continue;
            }
        }
        if (f.type == protocol::frame_type::method && ids && ids->first == 20 &&
            ids->second == 11) {
            last[f.channel] = 0;  // channel.open-ok: a new channel counts its confirms from 1
        }
        std::string frame(1, static_cast<char>(f.type));
        frame += std::to_string(f.channel) + ":";
        frame.append(f.payload);
        r.frames.push_back(std::move(frame));
    }
}

inline broker::broker_options fixed_options() {
    broker::broker_options o;
    const auto t0 = broker::time_point{} + std::chrono::hours(1);
    o.clock = [t0] { return t0; };
    o.wall_clock_ms = [] { return std::int64_t{1'700'000'000'000}; };
    o.rng_seed = 1;
    return o;
}

}  // namespace detail

/// Feeds `input` to a fresh session, cut at `cuts` (increasing offsets), through feed() or, with
/// `in_place`, through input_space()/input_received() as a transport does.
inline outcome run(std::string_view input, std::span<const std::size_t> cuts, bool in_place) {
    warren::set_log_level(warren::log_level::none);
    broker::broker b(detail::fixed_options());
    session s(b, session_options{}, "replay", true);
    auto give = [&](std::string_view chunk) {
        if (chunk.empty()) return;
        if (!in_place) return s.feed(chunk);
        auto space = s.input_space(chunk.size());
        std::copy(chunk.begin(), chunk.end(), space.data());
        s.input_received(chunk.size());
    };
    std::size_t pos = 0;
    for (auto cut : cuts) {
        if (cut <= pos || cut >= input.size()) continue;
        give(input.substr(pos, cut - pos));
        pos = cut;
    }
    give(input.substr(pos));
    outcome r;
    std::string out;
    s.take_output(out);
    detail::collect(out, r);
    r.finished = s.finished();
    r.state = detail::describe(b);
    s.transport_closed();
    r.state_after_close = detail::describe(b);
    return r;
}

/// A client's handshake up to an open channel 1 (frame_max 4096, no heartbeats).
inline std::string handshake() {
    std::string in(protocol::protocol_header);
    protocol::connection_start_ok ok;
    protocol::field_table caps;
    caps.add("consumer_cancel_notify", true);
    caps.add("authentication_failure_close", true);
    ok.client_properties.add("capabilities", std::move(caps));
    ok.mechanism = "PLAIN";
    ok.response = std::string("\0guest\0guest", 12);
    ok.locale = "en_US";
    protocol::append_method_frame(in, 0, ok);
    protocol::connection_tune_ok tune;
    tune.channel_max = 2047;
    tune.frame_max = 4096;
    protocol::append_method_frame(in, 0, tune);
    protocol::connection_open open;
    open.virtual_host = "/";
    protocol::append_method_frame(in, 0, open);
    protocol::append_method_frame(in, 1, protocol::channel_open{});
    return in;
}

/// The fuzz entry point. The first byte is control: bit 7 puts handshake() before the rest,
/// bit 6 selects the in-place input path, bits 0-5 the size of the pieces the split run gets
/// (1-64). Returns false when the oracle fails; never crashes on any input.
inline bool run_session_input(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return true;
    const auto control = data[0];
    std::string input = (control & 0x80) != 0 ? handshake() : std::string{};
    input.append(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t piece = std::size_t{control & 0x3fu} + 1;
    std::vector<std::size_t> cuts;
    for (std::size_t k = piece; k < input.size(); k += piece) cuts.push_back(k);
    const auto whole = run(input, {}, false);
    const auto split = run(input, cuts, (control & 0x40) != 0);
    return whole.well_formed && whole == split;
}

}  // namespace warren::server::fuzz
