// Each public store header compiles on its own.
#include <warren/store/crc32c.hpp>
#include <warren/store/definitions.hpp>
#include <warren/store/record.hpp>
#include <warren/store/store.hpp>

#include <doctest/doctest.h>

TEST_CASE("store headers are self-contained") { CHECK(warren::store::record_header_size == 8); }
