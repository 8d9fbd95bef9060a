// libFuzzer target: frame parsing plus method / content-header / field-table decoding of every
// payload. Built only with clang (tests/fuzz/CMakeLists.txt). Seed it with the golden frames:
//   ./warren_fuzz_frame_parser -max_len=4096 corpus/

#include "fuzz/frame_parser_target.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (!warren::protocol::fuzz::run_frame_parser_input(data, size)) std::abort();
    return 0;
}
