// RabbitMQ extensions through Warren's client: direct reply-to RPC, consumer priorities, priority
// queues. Same suite as the others: embedded broker, warren-broker and RabbitMQ.
#include "suite_support.hpp"

#include <doctest/doctest.h>

using namespace warren;
using warren::test::world;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> direct_reply_to_rpc(world& w) {
    auto conn = co_await w.connect();
    auto server = co_await conn.open_channel();
    auto q = co_await server.declare_queue(w.unique("rpc"), {.exclusive = true});

    auto client_conn = co_await w.connect();
    auto client = co_await client_conn.open_channel();
    auto replies =
        co_await client.consume("amq.rabbitmq.reply-to", consume_options{.no_ack = true});
    basic_properties request;
    request.reply_to = "amq.rabbitmq.reply-to";
    request.correlation_id = "42";
    co_await client.publish("", q.name, "21", request);

    std::optional<delivery> req;
    for (int i = 0; i < 200 && !req; ++i) {
        req = co_await server.get(q.name, get_options{.no_ack = true});
        if (!req) co_await w.sleep(std::chrono::milliseconds(10));
    }
    REQUIRE(req);
    const auto reply_to = req->properties().reply_to.value_or("");
    CHECK(reply_to.starts_with("amq.rabbitmq.reply-to."));
    CHECK(reply_to.size() > std::string_view("amq.rabbitmq.reply-to.").size() + 2);
    basic_properties reply;
    reply.correlation_id = req->properties().correlation_id;
    co_await server.publish("", reply_to, "42", reply);

    auto answer = co_await replies.next();
    REQUIRE(answer);
    CHECK(answer->body() == "42");
    CHECK(answer->routing_key() == reply_to);
    CHECK(answer->properties().correlation_id.value_or("") == "42");

    // A reply above the session's splice threshold and frame_max: several body frames.
    const std::string big(300'000, 'r');
    co_await server.publish("", reply_to, big, reply);
    auto big_answer = co_await replies.next();
    REQUIRE(big_answer);
    CHECK(big_answer->body() == big);
}

asio::awaitable<void> priority_queue_order(world& w) {
    auto conn = co_await w.connect();
    auto ch = co_await conn.open_channel();
    auto q = co_await ch.declare_queue(w.unique("prio"), {.exclusive = true},
                                       field_table().with("x-max-priority", std::int32_t{5}));
    for (int p : {0, 3, 9, 1}) {
        basic_properties po;
        po.priority = static_cast<std::uint8_t>(p);
        co_await ch.publish("", q.name, std::to_string(p), po);
    }
    std::vector<std::string> got;
    for (int i = 0; i < 200 && got.size() < 4; ++i) {
        auto d = co_await ch.get(q.name, get_options{.no_ack = true});
        if (d) {
            got.push_back(d->body());
        } else {
            co_await w.sleep(std::chrono::milliseconds(10));
        }
    }
    CHECK(got == std::vector<std::string>{"9", "3", "1", "0"});
}

}  // namespace

TEST_CASE("direct reply-to: an RPC round trip without a reply queue") {
    world w;
    w.run(direct_reply_to_rpc(w));
}
TEST_CASE("x-max-priority: the highest priority comes first") {
    world w;
    w.run(priority_queue_order(w));
}
