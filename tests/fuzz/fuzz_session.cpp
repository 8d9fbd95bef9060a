// libFuzzer target: one whole server session (tests/fuzz/session_target.hpp), fed the input in
// one piece and in pieces; both must answer alike. Built only with clang (CMakeLists.txt). Seed
// it with windows of the recorded sessions:
//   ./warren_fuzz_session_replay --write-corpus corpus/ tests/server/recordings
//   ./warren_fuzz_session -max_len=8192 corpus/

#include "fuzz/session_target.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (!warren::server::fuzz::run_session_input(data, size)) std::abort();
    return 0;
}
