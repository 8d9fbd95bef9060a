// queue.declare argument validation and redeclare equivalence, with RabbitMQ 3.10's texts.
#include "ext_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using namespace warren::test;
using protocol::field_table;
using protocol::field_value;

namespace {

std::string declare_text(broker::channel& ch, const std::string& q, field_table a,
                         bool durable = false) {
    auto r = declare_args(ch, q, std::move(a), durable);
    if (r) return "ok";
    return r.error().text;
}

field_table one(const char* k, field_value v) {
    field_table t;
    t.add(k, std::move(v));
    return t;
}

std::string invalid(const char* arg, const char* why) {
    return std::string("PRECONDITION_FAILED - invalid arg '") + arg +
           "' for queue 'q' in vhost '/': " + why;
}

}  // namespace

TEST_CASE("invalid queue arguments: reasons as RabbitMQ prints them") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    struct {
        const char* arg;
        field_value v;
        std::string want;
    } cases[] = {
        {"x-message-ttl", "abc", invalid("x-message-ttl", "\"expected integer, got longstr\"")},
        {"x-message-ttl", 1.5, invalid("x-message-ttl", "\"expected integer, got double\"")},
        {"x-message-ttl", true, invalid("x-message-ttl", "\"expected integer, got bool\"")},
        {"x-message-ttl", field_value{},
         invalid("x-message-ttl", "\"expected integer, got void\"")},
        {"x-message-ttl", std::int32_t{-1}, invalid("x-message-ttl", "{value_negative,-1}")},
        {"x-message-ttl", std::int64_t{315360000001},
         invalid("x-message-ttl", "{value_too_large,315360000001}")},
        {"x-message-ttl", std::int64_t{315360000000}, "ok"},
        {"x-message-ttl", std::int8_t{0}, "ok"},
        {"x-expires", std::int32_t{0}, invalid("x-expires", "{value_zero,0}")},
        {"x-expires", std::int32_t{-5}, invalid("x-expires", "{value_negative,-5}")},
        {"x-expires", std::int32_t{1}, "ok"},
        {"x-max-length", std::int32_t{-1}, invalid("x-max-length", "{value_negative,-1}")},
        {"x-max-length-bytes", "5",
         invalid("x-max-length-bytes", "\"expected integer, got longstr\"")},
        {"x-max-length", std::int64_t{1} << 62, "ok"},
        {"x-overflow", "foo", invalid("x-overflow", "invalid_overflow")},
        {"x-overflow", std::int32_t{1}, invalid("x-overflow", "{unacceptable_type,signedint}")},
        {"x-overflow", "reject-publish-dlx", "ok"},
        {"x-queue-mode", "foo", invalid("x-queue-mode", "\"unsupported queue mode 'foo'\"")},
        {"x-queue-mode", "lazy", "ok"},
        {"x-dead-letter-routing-key", "rk",
         invalid("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined")},
        {"x-queue-type", "foo", invalid("x-queue-type", "\"unsupported queue type 'foo'\"")},
        {"x-queue-type", "classic", "ok"},
        {"x-dead-letter-exchange", std::int32_t{1},
         "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue "
         "'q' in vhost '/'"},
        {"x-dead-letter-exchange", "no-such-exchange", "ok"},
        {"x-delivery-limit", std::int32_t{5},
         "PRECONDITION_FAILED - invalid arg 'x-delivery-limit' for queue 'q' in vhost '/' of queue "
         "type "
         "rabbit_classic_queue"},
        {"x-queue-master-locator", "foo", "INTERNAL_ERROR"},
        {"x-foo", "anything", "ok"},
    };
    for (auto& k : cases) {
        CAPTURE(k.arg);
        CHECK(declare_text(ch, "q", one(k.arg, k.v)) == k.want);
        if (auto q = tb.queue("q")) tb.b.find_vhost("/")->delete_queue(*q);
    }
    CHECK(declare_text(ch, "q", one("x-queue-type", "quorum")) ==
          "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'q' in vhost '/'");
}

TEST_CASE("validation order: DLX type, x-queue-type, then x-expires, x-message-ttl, ...") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    field_table bad;
    bad.add("x-overflow", "bad");
    bad.add("x-max-length", "bad");
    bad.add("x-message-ttl", "bad");
    bad.add("x-expires", "bad");
    bad.add("x-queue-type", "bad");
    bad.add("x-dead-letter-exchange", std::int32_t{5});
    CHECK(declare_text(ch, "q", bad).find("'x-dead-letter-exchange'") != std::string::npos);
    bad.set("x-dead-letter-exchange", "e");
    CHECK(declare_text(ch, "q", bad).find("'x-queue-type'") != std::string::npos);
    bad.set("x-queue-type", "classic");
    CHECK(declare_text(ch, "q", bad).find("'x-expires'") != std::string::npos);
    bad.set("x-expires", std::int32_t{5000});
    CHECK(declare_text(ch, "q", bad).find("'x-message-ttl'") != std::string::npos);
    bad.set("x-message-ttl", std::int32_t{5});
    CHECK(declare_text(ch, "q", bad).find("'x-max-length'") != std::string::npos);
    bad.set("x-max-length", std::int32_t{5});
    CHECK(declare_text(ch, "q", bad).find("'x-overflow'") != std::string::npos);
}

TEST_CASE(
    "redeclare: inequivalent texts (checked instead of validation); integer types "
    "interchangeable") {
    timed_broker tb;
    client c(tb.b);
    auto& ch = c.channel();
    field_table orig;
    orig.add("x-message-ttl", std::int32_t{1000});
    orig.add("x-overflow", "reject-publish");
    REQUIRE(declare_args(ch, "q", orig));
    auto with = [&](const char* k, field_value v) {
        auto t = orig;
        t.set(k, std::move(v));
        return t;
    };
    const std::string pre = "PRECONDITION_FAILED - inequivalent arg ";
    CHECK(declare_text(ch, "q", with("x-message-ttl", "abc")) ==
          pre + "'x-message-ttl' for queue 'q' in vhost '/': received 'abc' but current is '1000'");
    CHECK(declare_text(ch, "q", with("x-message-ttl", 1000.0)) ==
          pre +
              "'x-message-ttl' for queue 'q' in vhost '/': received '1.0e3' but current is '1000'");
    CHECK(declare_text(ch, "q", with("x-message-ttl", 5.0)) ==
          pre + "'x-message-ttl' for queue 'q' in vhost '/': received '5.0' but current is '1000'");
    CHECK(declare_text(ch, "q", with("x-message-ttl", std::int64_t{1000})) == "ok");
    CHECK(declare_text(ch, "q", with("x-expires", std::int32_t{5000})) ==
          pre +
              "'x-expires' for queue 'q' in vhost '/': received the value '5000' of type "
              "'signedint' but "
              "current is none");
    CHECK(declare_text(ch, "q", with("x-queue-type", "classic")) == "ok");
    CHECK(declare_text(ch, "q", with("x-overflow", "drop-head")) ==
          pre +
              "'x-overflow' for queue 'q' in vhost '/': received 'drop-head' but current is "
              "'reject-publish'");
}
