#include <warren/client/uri.hpp>

#include <doctest/doctest.h>

using warren::parse_uri;
using warren::uri_error;

TEST_CASE("uri: defaults are RabbitMQ's") {
    auto u = parse_uri("amqp://");
    CHECK(u.user == "guest");
    CHECK(u.password == "guest");
    CHECK(u.host == "localhost");
    CHECK(u.port == 5672);
    CHECK(u.vhost == "/");
    CHECK_FALSE(u.heartbeat);
    CHECK(u.frame_max == 131072);
    CHECK(u.channel_max == 2047);
}

TEST_CASE("uri: every part") {
    auto u = parse_uri(
        "amqp://alice:s%40cret@broker.example:5673/"
        "prod?heartbeat=10&frame_max=8192&channel_max=16");
    CHECK(u.user == "alice");
    CHECK(u.password == "s@cret");
    CHECK(u.host == "broker.example");
    CHECK(u.port == 5673);
    CHECK(u.vhost == "prod");
    REQUIRE(u.heartbeat);
    CHECK(*u.heartbeat == 10);
    CHECK(u.frame_max == 8192);
    CHECK(u.channel_max == 16);
}

TEST_CASE("uri: vhost rules") {
    CHECK(parse_uri("amqp://host").vhost == "/");
    CHECK(parse_uri("amqp://host/").vhost == "");
    CHECK(parse_uri("amqp://host/%2f").vhost == "/");
    CHECK(parse_uri("amqp://host/%2Fa%20b").vhost == "/a b");
    CHECK(parse_uri("amqp://host?heartbeat=0").vhost == "/");
    CHECK_THROWS_AS(parse_uri("amqp://host/a/b"), uri_error);
}

TEST_CASE("uri: userinfo, host and port forms") {
    auto u = parse_uri("amqp://bob@h");
    CHECK(u.user == "bob");
    CHECK(u.password == "guest");
    auto e = parse_uri("amqp://:@h");
    CHECK(e.user.empty());
    CHECK(e.password.empty());
    auto v6 = parse_uri("amqp://[::1]:5999/v");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 5999);
    CHECK(parse_uri("amqp://h:/").port == 5672);
    CHECK(parse_uri("amqp://user:pa%3Ass@h").password == "pa:ss");
}

TEST_CASE("uri: bad input is a uri_error naming the problem") {
    auto message = [](const char* text) {
        try {
            parse_uri(text);
        } catch (const uri_error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message("localhost:5672").find("amqp://") != std::string::npos);
    CHECK(message("http://h/").find("scheme") != std::string::npos);
    CHECK(message("amqps://h/").find("TLS") != std::string::npos);
    CHECK(message("amqp://h:99999/").find("port") != std::string::npos);
    CHECK(message("amqp://h:0/").find("port") != std::string::npos);
    CHECK(message("amqp://h:abc/").find("port") != std::string::npos);
    CHECK(message("amqp://h/%zz").find("percent") != std::string::npos);
    CHECK(message("amqp://h/%2").find("percent") != std::string::npos);
    CHECK(message("amqp://h/?heartbeat=x").find("heartbeat") != std::string::npos);
    CHECK(message("amqp://h/?heartbeat=70000").find("heartbeat") != std::string::npos);
    CHECK(message("amqp://h/?frame_max=100").find("4096") != std::string::npos);
    CHECK(message("amqp://h/?bogus=1").find("bogus") != std::string::npos);
    CHECK(message("amqp://h/?heartbeat").find("no value") != std::string::npos);
    CHECK(message("amqp://[::1/").find("IPv6") != std::string::npos);
    CHECK(message("amqp://h/#frag").find("fragment") != std::string::npos);
}

TEST_CASE("uri: to_string hides the password and encodes the vhost") {
    CHECK(to_string(parse_uri("amqp://u:p@h:1/")) == "amqp://u@h:1/");
    CHECK(to_string(parse_uri("amqp://u:p@h:1")) == "amqp://u@h:1/%2F");
    CHECK(to_string(parse_uri("amqp://[::1]")) == "amqp://guest@[::1]:5672/%2F");
}

TEST_CASE(
    "uri: the trailing slash is the vhost \"\" (AMQP URI spec, Java/Erlang/rabbitmq-c), not pika's "
    "\"/\"") {
    // What tests/interop/harness.py exports: docs/client.md explains the choice.
    auto u = parse_uri("amqp://guest:guest@127.0.0.1:5672/");
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 5672);
    CHECK(u.vhost == "");
    CHECK(parse_uri("amqp://guest:guest@127.0.0.1:5672/%2F").vhost == "/");
    CHECK(parse_uri("amqp://guest:guest@127.0.0.1:5672").vhost == "/");
    auto q = parse_uri("amqp://h:5672/?heartbeat=5");
    CHECK(q.vhost == "");
    REQUIRE(q.heartbeat);
    CHECK(*q.heartbeat == 5);
    CHECK(parse_uri("amqp://h:5672?heartbeat=5").vhost == "/");
}

TEST_CASE("uri: empty parts fall back to the defaults, escapes are decoded everywhere") {
    auto u = parse_uri("amqp:///vh");
    CHECK(u.host == "localhost");
    CHECK(u.port == 5672);
    CHECK(u.vhost == "vh");
    CHECK(parse_uri("amqp://h%2Dx/").host == "h-x");
    CHECK(parse_uri("amqp://a%3Ab:c%2Fd@h").user == "a:b");
    CHECK(parse_uri("amqp://a%3Ab:c%2Fd@h").password == "c/d");
    CHECK(parse_uri("amqp://[::1]/").host == "::1");
    CHECK(parse_uri("amqp://[::1]/").port == 5672);
    CHECK(parse_uri("amqp://h/?heartbeat=0").heartbeat == std::optional<std::uint16_t>(0));
    CHECK(parse_uri("amqp://h/?frame_max=0&channel_max=0").frame_max == 0);
    CHECK(parse_uri("amqp://h/?connection_timeout=250").connection_timeout == 250);
    CHECK(parse_uri("amqp://h/?&heartbeat=3&").heartbeat == std::optional<std::uint16_t>(3));
    CHECK_THROWS_AS(parse_uri("amqp://h:65536/"), uri_error);
    CHECK_THROWS_AS(parse_uri("amqp://[::1]x/"), uri_error);
    CHECK_THROWS_AS(parse_uri("AMQP-X://h/"), uri_error);
}
