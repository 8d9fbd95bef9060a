#include <warren/protocol/reply_code.hpp>

#include <doctest/doctest.h>

using namespace warren::protocol;

TEST_CASE("reply codes have RabbitMQ's names") {
    CHECK(reply_code_name(reply_code::success) == "REPLY_SUCCESS");
    CHECK(reply_code_name(reply_code::content_too_large) == "CONTENT_TOO_LARGE");
    CHECK(reply_code_name(reply_code::no_route) == "NO_ROUTE");
    CHECK(reply_code_name(reply_code::no_consumers) == "NO_CONSUMERS");
    CHECK(reply_code_name(reply_code::connection_forced) == "CONNECTION_FORCED");
    CHECK(reply_code_name(reply_code::invalid_path) == "INVALID_PATH");
    CHECK(reply_code_name(reply_code::access_refused) == "ACCESS_REFUSED");
    CHECK(reply_code_name(reply_code::not_found) == "NOT_FOUND");
    CHECK(reply_code_name(reply_code::resource_locked) == "RESOURCE_LOCKED");
    CHECK(reply_code_name(reply_code::precondition_failed) == "PRECONDITION_FAILED");
    CHECK(reply_code_name(reply_code::frame_error) == "FRAME_ERROR");
    CHECK(reply_code_name(reply_code::syntax_error) == "SYNTAX_ERROR");
    CHECK(reply_code_name(reply_code::command_invalid) == "COMMAND_INVALID");
    CHECK(reply_code_name(reply_code::channel_error) == "CHANNEL_ERROR");
    CHECK(reply_code_name(reply_code::unexpected_frame) == "UNEXPECTED_FRAME");
    CHECK(reply_code_name(reply_code::resource_error) == "RESOURCE_ERROR");
    CHECK(reply_code_name(reply_code::not_allowed) == "NOT_ALLOWED");
    CHECK(reply_code_name(reply_code::not_implemented) == "NOT_IMPLEMENTED");
    CHECK(reply_code_name(reply_code::internal_error) == "INTERNAL_ERROR");
    CHECK(reply_code_name(static_cast<reply_code>(999)) == "UNKNOWN_REPLY_CODE");
    CHECK(static_cast<int>(reply_code::not_found) == 404);
}

TEST_CASE("hard errors close the connection") {
    CHECK_FALSE(is_hard_error(reply_code::not_found));
    CHECK_FALSE(is_hard_error(reply_code::access_refused));
    CHECK_FALSE(is_hard_error(reply_code::precondition_failed));
    CHECK_FALSE(is_hard_error(reply_code::resource_locked));
    CHECK_FALSE(is_hard_error(reply_code::no_route));
    CHECK(is_hard_error(reply_code::frame_error));
    CHECK(is_hard_error(reply_code::command_invalid));
    CHECK(is_hard_error(reply_code::channel_error));
    CHECK(is_hard_error(reply_code::not_allowed));
    CHECK(is_hard_error(reply_code::connection_forced));
    CHECK(is_hard_error(reply_code::internal_error));
}
