#include <warren/client/error.hpp>
#include <warren/client/options.hpp>

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

using warren::channel_error;
using warren::connection_error;
using warren::protocol::reply_code;

TEST_CASE("reply codes are error codes of the warren.amqp category") {
    boost::system::error_code ec = reply_code::not_found;
    CHECK(ec.value() == 404);
    CHECK(std::string(ec.category().name()) == "warren.amqp");
    CHECK(ec.message() == "NOT_FOUND");
    CHECK(ec == reply_code::not_found);
    CHECK(ec != reply_code::precondition_failed);
}

TEST_CASE("channel_error and connection_error carry code and reply text") {
    channel_error e(reply_code::precondition_failed,
                    "PRECONDITION_FAILED - inequivalent arg 'durable'");
    CHECK(e.code() == reply_code::precondition_failed);
    CHECK(std::string(e.what()) == "PRECONDITION_FAILED - inequivalent arg 'durable'");
    CHECK(e.reply_text() == e.what());
    const boost::system::system_error& base = e;
    CHECK(base.code().value() == 406);

    connection_error c(boost::asio::error::eof, "connection lost: End of file");
    CHECK(c.code() == boost::asio::error::eof);
    CHECK(c.code() != reply_code::success);
    connection_error forced(reply_code::connection_forced, "CONNECTION_FORCED - broker shutdown");
    CHECK(forced.code() == reply_code::connection_forced);
}

TEST_CASE("exchange types print as AMQP names") {
    CHECK(warren::to_string(warren::exchange_type::topic) == "topic");
    CHECK(warren::to_string(warren::exchange_type::headers) == "headers");
}
