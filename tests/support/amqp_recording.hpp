#pragma once
// Reads a session recorded by tools/amqp_capture.py: lines
//   <conn> <dir> <type> <channel> <class.method or -> <hex of the whole frame>
// The client-to-server bytes (dir C) of the first connection, concatenated in order, are what a
// server received; a test feeds them to a session again.

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace warren::test {

inline std::string load_recording(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open recording " + path);
    std::string out, line, first_conn;
    auto nibble = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        throw std::runtime_error("bad hex digit in recording");
    };
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string conn, dir, type, channel, ids, hex;
        if (!(fields >> conn >> dir >> type >> channel >> ids >> hex)) continue;
        if (first_conn.empty()) first_conn = conn;
        if (conn != first_conn || dir != "C") continue;
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
            out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
        }
    }
    return out;
}

}  // namespace warren::test
