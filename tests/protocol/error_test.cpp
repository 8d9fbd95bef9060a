#include <warren/protocol/error.hpp>

#include <doctest/doctest.h>
#include <string>

using namespace warren::protocol;

TEST_CASE("protocol errors have a category and messages") {
    boost::system::error_code ec = error::frame_too_large;
    CHECK(ec.category().name() == std::string("warren.protocol"));
    CHECK(&ec.category() == &error_category());
    CHECK(ec == error::frame_too_large);
    CHECK(ec != error::truncated);
    CHECK(ec.message() == "frame larger than the negotiated frame_max");
    for (int e = static_cast<int>(error::truncated); e <= static_cast<int>(error::string_too_long);
         ++e) {
        const auto message = make_error_code(static_cast<error>(e)).message();
        CHECK(!message.empty());
        CHECK(message != "unknown warren.protocol error");
    }
    CHECK(boost::system::error_code(99, error_category()).message() ==
          "unknown warren.protocol error");
    char buf[8];
    CHECK(std::string(error_category().message(1, buf, sizeof buf)) == "truncated frame payload");
}

TEST_CASE("result carries an error or a value") {
    result<int> ok = 3;
    result<int> bad = error::bad_frame_end;
    CHECK(ok.has_value());
    CHECK(*ok == 3);
    CHECK(bad.has_error());
    CHECK(bad.error() == error::bad_frame_end);
}
