// Frames captured between pika 1.2.0 and RabbitMQ 3.10.8 (see golden_frames.hpp): decode gives the
// expected fields, and re-encoding gives the captured bytes exactly.

#include "protocol/golden_frames.hpp"
#include "protocol/test_util.hpp"

#include <doctest/doctest.h>
#include <span>
#include <string>

using namespace warren::protocol;
using namespace warren::protocol::test;

namespace {

std::string find_hex(std::string_view name) {
    for (auto frames : {std::span<const golden_frame>(golden_client),
                        std::span<const golden_frame>(golden_server),
                        std::span<const golden_frame>(golden_errors)}) {
        for (const auto& f : frames) {
            if (f.name == name) return from_hex(f.hex);
        }
    }
    FAIL("no golden frame named ", name);
    return {};
}

template <class M>
M decode_golden(std::string_view name) {
    const std::string bytes = find_hex(name);
    auto r = parse_frame(bytes, 131072);
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.frame.type == frame_type::method);
    auto m = decode_method(r.frame.payload);
    REQUIRE_MESSAGE(m.has_value(), name);
    REQUIRE_MESSAGE(std::holds_alternative<M>(*m), name);
    return std::get<M>(*m);
}

content_header decode_golden_header(std::string_view name) {
    const std::string bytes = find_hex(name);
    auto r = parse_frame(bytes, 131072);
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.frame.type == frame_type::header);
    auto h = decode_content_header(r.frame.payload);
    REQUIRE(h.has_value());
    return *h;
}

std::string str(const field_table& t, std::string_view key) {
    const auto* v = t.find(key);
    REQUIRE_MESSAGE(v, key);
    REQUIRE_MESSAGE(v->as_string(), key);
    return *v->as_string();
}

}  // namespace

TEST_CASE("every golden frame decodes and re-encodes byte for byte") {
    for (auto frames : {std::span<const golden_frame>(golden_client),
                        std::span<const golden_frame>(golden_server),
                        std::span<const golden_frame>(golden_errors)}) {
        for (const auto& f : frames) {
            CAPTURE(f.name);
            const std::string bytes = from_hex(f.hex);
            auto r = parse_frame(bytes, 131072);
            REQUIRE_FALSE(r.ec);
            REQUIRE(r.consumed == bytes.size());
            std::string again;
            switch (r.frame.type) {
                case frame_type::method: {
                    auto m = decode_method(r.frame.payload);
                    REQUIRE(m.has_value());
                    CHECK(f.name.ends_with(name_of(*m)));
                    append_method_frame(again, r.frame.channel, *m);
                    append_method_frame(again, r.frame.channel, *m);
                    break;
                }
                case frame_type::header: {
                    auto h = decode_content_header(r.frame.payload);
                    REQUIRE(h.has_value());
                    append_content_header(again, r.frame.channel, *h);
                    append_content_header(again, r.frame.channel, *h);
                    break;
                }
                case frame_type::body:
                    append_frame(again, frame_type::body, r.frame.channel, r.frame.payload);
                    append_frame(again, frame_type::body, r.frame.channel, r.frame.payload);
                    break;
                case frame_type::heartbeat:
                    FAIL("no heartbeats were captured");
                    break;
            }
            CHECK(to_hex(again) == to_hex(bytes + bytes));
        }
    }
}

TEST_CASE("RabbitMQ 3.10 connection.start") {
    const auto start = decode_golden<connection_start>("S ch0 connection.start");
    CHECK(start.version_major == 0);
    CHECK(start.version_minor == 9);
    CHECK(start.mechanisms == "AMQPLAIN PLAIN");
    CHECK(start.locales == "en_US");
    const auto& props = start.server_properties;
    CHECK(str(props, "product") == "RabbitMQ");
    CHECK(str(props, "version") == "3.10.8");
    CHECK(str(props, "platform") == "Erlang/OTP 25.2.3");
    CHECK(str(props, "copyright") == "Copyright (c) 2007-2022 VMware, Inc. or its affiliates.");
    CHECK(str(props, "information") == "Licensed under the MPL 2.0. Website: https://rabbitmq.com");
    CHECK(str(props, "cluster_name").starts_with("proto5790@"));
    std::string order;
    for (const auto& e : props.entries) order += e.name + ",";
    CHECK(order == "capabilities,cluster_name,copyright,information,platform,product,version,");
    const auto* caps = props.find("capabilities")->get_if<field_table>();
    REQUIRE(caps);
    std::string names;
    for (const auto& e : caps->entries) {
        CHECK(e.value.type_tag() == 't');
        CHECK(*e.value.get_if<bool>());
        names += e.name + ",";
    }
    CHECK(names ==
          "publisher_confirms,exchange_exchange_bindings,basic.nack,consumer_cancel_notify,"
          "connection.blocked,consumer_priorities,authentication_failure_close,per_consumer_qos,"
          "direct_reply_to,");
}

TEST_CASE("pika's connection handshake") {
    const auto ok = decode_golden<connection_start_ok>("C ch0 connection.start-ok");
    CHECK(ok.mechanism == "PLAIN");
    CHECK(ok.response == std::string("\0guest\0guest", 12));
    CHECK(ok.locale == "en_US");
    CHECK(str(ok.client_properties, "product") == "Pika Python Client Library");
    CHECK(str(ok.client_properties, "version") == "1.2.0");
    const auto* caps = ok.client_properties.find("capabilities")->get_if<field_table>();
    REQUIRE(caps);
    CHECK(caps->size() == 5);
    CHECK(caps->find("publisher_confirms")->get_if<bool>());

    const auto tune = decode_golden<connection_tune>("S ch0 connection.tune");
    CHECK(tune.channel_max == 2047);
    CHECK(tune.frame_max == 131072);
    CHECK(tune.heartbeat == 60);
    const auto tune_ok = decode_golden<connection_tune_ok>("C ch0 connection.tune-ok");
    CHECK(tune_ok.channel_max == 2047);
    CHECK(tune_ok.frame_max == 131072);
    CHECK(tune_ok.heartbeat == 60);
    const auto open = decode_golden<connection_open>("C ch0 connection.open");
    CHECK(open.virtual_host == "/");
    CHECK(open.capabilities.empty());
    CHECK(open.insist);  // pika sets the deprecated insist bit
    CHECK(decode_golden<connection_open_ok>("S ch0 connection.open-ok").known_hosts.empty());
    CHECK(decode_golden<channel_open_ok>("S ch1 channel.open-ok").channel_id.empty());
    const auto close = decode_golden<connection_close>("C ch0 connection.close");
    CHECK(close.reply_code == 200);
    CHECK(close.reply_text == "Normal shutdown");
    CHECK(close.class_id == 0);
    CHECK(close.method_id == 0);
}

TEST_CASE("declarations, qos and confirms") {
    const auto ex = decode_golden<exchange_declare>("C ch1 exchange.declare");
    CHECK(ex.exchange == "warren.golden");
    CHECK(ex.type == "direct");
    CHECK(ex.durable);
    CHECK_FALSE(ex.passive);
    CHECK_FALSE(ex.auto_delete);
    CHECK(ex.arguments.empty());
    const auto q = decode_golden<queue_declare>("C ch1 queue.declare");
    CHECK(q.queue == "warren.golden.q");
    CHECK(q.durable);
    CHECK_FALSE(q.exclusive);
    CHECK(q.arguments.find("x-max-priority")->as_integer() == 5);
    CHECK(q.arguments.find("x-max-priority")->type_tag() == 'I');
    CHECK(str(q.arguments, "x-queue-mode") == "lazy");
    const auto q_ok = decode_golden<queue_declare_ok>("S ch1 queue.declare-ok");
    CHECK(q_ok.queue == "warren.golden.q");
    CHECK(q_ok.message_count == 0);
    CHECK(q_ok.consumer_count == 0);
    const auto bind = decode_golden<queue_bind>("C ch1 queue.bind");
    CHECK(bind.queue == "warren.golden.q");
    CHECK(bind.exchange == "warren.golden");
    CHECK(bind.routing_key == "rk");
    const auto qos = decode_golden<basic_qos>("C ch1 basic.qos");
    CHECK(qos.prefetch_count == 10);
    CHECK(qos.prefetch_size == 0);
    CHECK_FALSE(qos.global);
    CHECK_FALSE(decode_golden<confirm_select>("C ch1 confirm.select").nowait);
}

TEST_CASE("publish, deliver and acks") {
    const auto pub = decode_golden<basic_publish>("C ch1 basic.publish");
    CHECK(pub.exchange == "warren.golden");
    CHECK(pub.routing_key == "rk");
    CHECK_FALSE(pub.mandatory);
    const auto h = decode_golden_header("C ch1 basic.publish header");
    CHECK(h.class_id == 60);
    CHECK(h.body_size == 12);
    CHECK(h.properties.content_type == "text/plain");
    CHECK(h.properties.delivery_mode == 2);
    CHECK(h.properties.persistent());
    CHECK(h.properties.correlation_id == "c1");
    CHECK(h.properties.message_id == "m1");
    REQUIRE(h.properties.headers);
    CHECK(h.properties.headers->find("x-n")->as_integer() == 7);
    CHECK(str(*h.properties.headers, "s") == "v");
    CHECK_FALSE(h.properties.priority);
    CHECK(find_hex("C ch1 basic.publish body").substr(7, 12) == "hello warren");

    const auto confirm = decode_golden<basic_ack>("S ch1 basic.ack");
    CHECK(confirm.delivery_tag == 1);
    CHECK_FALSE(confirm.multiple);
    const auto consume = decode_golden<basic_consume>("C ch1 basic.consume");
    CHECK(consume.queue == "warren.golden.q");
    CHECK(consume.consumer_tag == "ctag1");
    CHECK_FALSE(consume.no_ack);
    CHECK(decode_golden<basic_consume_ok>("S ch1 basic.consume-ok").consumer_tag == "ctag1");
    const auto deliver = decode_golden<basic_deliver>("S ch1 basic.deliver");
    CHECK(deliver.consumer_tag == "ctag1");
    CHECK(deliver.delivery_tag == 1);
    CHECK_FALSE(deliver.redelivered);
    CHECK(deliver.exchange == "warren.golden");
    CHECK(deliver.routing_key == "rk");
    // RabbitMQ forwards the publisher's encoded properties untouched.
    CHECK(find_hex("S ch1 basic.deliver header") == find_hex("C ch1 basic.publish header"));
    const auto ack = decode_golden<basic_ack>("C ch1 basic.ack");
    CHECK(ack.delivery_tag == 1);
    CHECK_FALSE(ack.multiple);
}

TEST_CASE("RabbitMQ's error replies, returns and basic.get") {
    const auto close = decode_golden<channel_close>("S ch1 channel.close");
    CHECK(close.reply_code == 404);
    CHECK(close.reply_text == "NOT_FOUND - no queue 'warren.missing' in vhost '/'");
    CHECK(close.class_id == 50);
    CHECK(close.method_id == 10);
    const auto ret = decode_golden<basic_return>("S ch1 basic.return");
    CHECK(ret.reply_code == 312);
    CHECK(ret.reply_text == "NO_ROUTE");
    CHECK(ret.exchange.empty());
    CHECK(ret.routing_key == "no.such.queue");
    CHECK(decode_golden<basic_get_empty>("S ch1 basic.get-empty").cluster_id.empty());
    const auto get_ok = decode_golden<basic_get_ok>("S ch1 basic.get-ok");
    CHECK(get_ok.delivery_tag == 1);
    CHECK(get_ok.message_count == 0);
    CHECK(get_ok.routing_key.starts_with("amq.gen-"));
    const auto h = decode_golden_header("S ch1 basic.get-ok header");
    CHECK(h.properties.timestamp == 1700000000);
    CHECK(h.properties.priority == 3);
    CHECK(h.properties.expiration == "60000");
    CHECK_FALSE(h.properties.delivery_mode);
}
