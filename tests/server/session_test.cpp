// Drives server::session with raw bytes, as a client would send them, and decodes its replies.
#include <warren/broker/broker.hpp>
#include <warren/common/log.hpp>
#include <warren/protocol/codec.hpp>
#include <warren/server/session.hpp>

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace warren;
namespace p = warren::protocol;

namespace {

/// Appends a whole basic.publish (method, header, one body frame) on channel 1.
void append_publish(std::string& out, const p::basic_publish& pub, const std::string& body) {
    p::append_method_frame(out, 1, pub);
    p::append_content_header(out, 1, p::content_header{60, body.size(), {}});
    p::append_body_frames(out, 1, body, 131072);
}

struct frame {
    p::frame_type type;
    std::uint16_t channel;
    std::string payload;
};

struct peer {
    broker::broker brk;
    server::session s{brk, server::session_options{}, "test-peer", true};
    std::string pending;

    peer() { warren::set_log_level(warren::log_level::none); }

    std::vector<frame> read() {
        std::string out;
        s.take_output(out);
        s.output_written(out.size());
        pending += out;
        std::vector<frame> frames;
        std::size_t pos = 0;
        for (;;) {
            auto r = p::parse_frame(std::string_view(pending).substr(pos), 0);
            REQUIRE_FALSE(r.ec);
            if (r.consumed == 0) break;
            frames.push_back({r.frame.type, r.frame.channel, std::string(r.frame.payload)});
            pos += r.consumed;
        }
        pending.erase(0, pos);
        return frames;
    }
    template <class M>
    void send(std::uint16_t ch, const M& m) {
        std::string out;
        p::append_method_frame(out, ch, m);
        s.feed(out);
    }
    p::method method_of(const frame& f) {
        REQUIRE(f.type == p::frame_type::method);
        auto m = p::decode_method(f.payload);
        REQUIRE(m.has_value());
        return *m;
    }
    void handshake() {
        s.feed(p::protocol_header);
        auto start = read();
        REQUIRE(start.size() == 1);
        REQUIRE(std::holds_alternative<p::connection_start>(method_of(start[0])));
        p::connection_start_ok ok;
        ok.mechanism = "PLAIN";
        ok.response = std::string("\0guest\0guest", 12);
        ok.locale = "en_US";
        send(0, ok);
        auto tune = read();
        REQUIRE(tune.size() == 1);
        auto t = std::get<p::connection_tune>(method_of(tune[0]));
        CHECK(t.channel_max == 2047);
        CHECK(t.frame_max == 131072);
        p::connection_tune_ok tok;
        tok.channel_max = t.channel_max;
        tok.frame_max = t.frame_max;
        tok.heartbeat = 0;
        send(0, tok);
        p::connection_open open;
        open.virtual_host = "/";
        send(0, open);
        auto opened = read();
        REQUIRE(opened.size() == 1);
        REQUIRE(std::holds_alternative<p::connection_open_ok>(method_of(opened[0])));
    }
    void open_channel(std::uint16_t id) {
        send(id, p::channel_open{});
        auto f = read();
        REQUIRE(f.size() == 1);
        REQUIRE(std::holds_alternative<p::channel_open_ok>(method_of(f[0])));
    }
};

}  // namespace

TEST_CASE("a wrong protocol header gets AMQP 0-9-1's header back and the connection ends") {
    peer c;
    c.s.feed("HTTP/1.1 GET /\r\n");
    std::string out;
    REQUIRE(c.s.take_output(out));
    CHECK(out == std::string("AMQP\x00\x00\x09\x01", 8));
    CHECK(c.s.finished());
}

TEST_CASE("the handshake is accepted when fed one byte at a time") {
    peer c;
    std::string all(p::protocol_header);
    for (char ch : all) c.s.feed(std::string_view(&ch, 1));
    auto start = c.read();
    REQUIRE(start.size() == 1);
    auto m = std::get<p::connection_start>(c.method_of(start[0]));
    CHECK(m.mechanisms == "AMQPLAIN PLAIN");
    const auto* caps = m.server_properties.find("capabilities");
    REQUIRE(caps);
    CHECK(caps->get_if<p::field_table>()->find("publisher_confirms"));
    CHECK(caps->get_if<p::field_table>()->find("consumer_priorities"));
    CHECK(caps->get_if<p::field_table>()->find("direct_reply_to"));
}

TEST_CASE("wrong credentials are refused with 403 when the client asks for a close") {
    peer c;
    c.s.feed(p::protocol_header);
    c.read();
    p::connection_start_ok ok;
    p::field_table caps;
    caps.add("authentication_failure_close", true);
    ok.client_properties.add("capabilities", caps);
    ok.mechanism = "PLAIN";
    ok.response = std::string("\0guest\0wrong", 12);
    c.send(0, ok);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    auto close = std::get<p::connection_close>(c.method_of(f[0]));
    CHECK(close.reply_code == 403);
    CHECK(close.reply_text.starts_with("ACCESS_REFUSED - Login was refused"));
}

TEST_CASE("a missing vhost is 530 NOT_ALLOWED") {
    peer c;
    c.s.feed(p::protocol_header);
    c.read();
    p::connection_start_ok ok;
    ok.mechanism = "PLAIN";
    ok.response = std::string("\0guest\0guest", 12);
    c.send(0, ok);
    c.read();
    p::connection_tune_ok tok;
    tok.frame_max = 131072;
    c.send(0, tok);
    p::connection_open open;
    open.virtual_host = "/nope";
    c.send(0, open);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    auto close = std::get<p::connection_close>(c.method_of(f[0]));
    CHECK(close.reply_code == 530);
    CHECK(close.class_id == 10);
    CHECK(close.method_id == 40);
}

TEST_CASE("a channel error closes that channel only; the other keeps working") {
    peer c;
    c.handshake();
    c.open_channel(1);
    c.open_channel(2);
    p::queue_declare bad;
    bad.queue = "missing";
    bad.passive = true;
    c.send(1, bad);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    CHECK(f[0].channel == 1);
    auto close = std::get<p::channel_close>(c.method_of(f[0]));
    CHECK(close.reply_code == 404);
    CHECK(close.class_id == 50);
    CHECK(close.method_id == 10);
    // Frames on the closing channel are ignored until close-ok.
    c.send(1, bad);
    CHECK(c.read().empty());
    c.send(1, p::channel_close_ok{});
    p::queue_declare good;
    good.queue = "q";
    c.send(2, good);
    f = c.read();
    REQUIRE(f.size() == 1);
    CHECK(std::get<p::queue_declare_ok>(c.method_of(f[0])).queue == "q");
    // Channel 1 can be opened again.
    c.open_channel(1);
}

TEST_CASE("a method on a channel that was never opened is 504 CHANNEL_ERROR on the connection") {
    peer c;
    c.handshake();
    p::queue_declare d;
    c.send(5, d);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    CHECK(f[0].channel == 0);
    CHECK(std::get<p::connection_close>(c.method_of(f[0])).reply_code == 504);
    CHECK(c.s.closing());
    c.send(0, p::connection_close_ok{});
    CHECK(c.s.finished());
}

TEST_CASE("a content header without basic.publish is 505 UNEXPECTED_FRAME") {
    peer c;
    c.handshake();
    c.open_channel(1);
    std::string out;
    p::append_content_header(out, 1, p::content_header{60, 0, {}});
    c.s.feed(out);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    CHECK(std::get<p::connection_close>(c.method_of(f[0])).reply_code == 505);
}

TEST_CASE("publish → deliver round trip with content split across body frames") {
    peer c;
    c.handshake();
    c.open_channel(1);
    p::queue_declare d;
    d.queue = "q";
    c.send(1, d);
    p::basic_consume bc;
    bc.queue = "q";
    bc.no_ack = true;
    c.send(1, bc);
    c.read();
    p::basic_publish pub;
    pub.routing_key = "q";
    std::string body(300000, 'x');  // more than one frame at frame_max 131072
    std::string out;
    p::append_method_frame(out, 1, pub);
    p::basic_properties props;
    props.content_type = "text/plain";
    p::append_content_header(out, 1, p::content_header{60, body.size(), props});
    p::append_body_frames(out, 1, body, 131072);
    c.s.feed(out);
    auto f = c.read();
    REQUIRE(f.size() >= 4);
    auto deliver = std::get<p::basic_deliver>(c.method_of(f[0]));
    CHECK(deliver.routing_key == "q");
    REQUIRE(f[1].type == p::frame_type::header);
    auto h = p::decode_content_header(f[1].payload);
    REQUIRE(h.has_value());
    CHECK(h->body_size == body.size());
    CHECK(h->properties.content_type == "text/plain");
    std::string got;
    for (std::size_t i = 2; i < f.size(); ++i) got += f[i].payload;
    CHECK(got == body);
}

TEST_CASE(
    "large bodies are spliced by reference (gather write), small ones copied; get and deliver") {
    peer c;
    c.handshake();
    c.open_channel(1);
    p::queue_declare d;
    d.queue = "q";
    c.send(1, d);
    c.read();
    auto publish = [&](const std::string& body) {
        p::basic_publish pub;
        pub.routing_key = "q";
        std::string out;
        p::append_method_frame(out, 1, pub);
        p::append_content_header(out, 1, p::content_header{60, body.size(), {}});
        p::append_body_frames(out, 1, body, 131072);
        c.s.feed(out);
    };
    // What the transport's gather write puts on the wire.
    auto flatten = [](const server::session::output& o) {
        std::string flat;
        std::size_t pos = 0;
        for (const auto& sp : o.splices) {
            flat.append(o.bytes, pos, sp.at - pos);
            flat.append(sp.bytes);
            pos = sp.at;
        }
        flat.append(o.bytes, pos);
        return flat;
    };
    std::string big(200000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>('a' + (i * 7 + i / 131) % 26);
    const std::string small(server::session::splice_threshold - 1, 's');
    publish(big);
    publish(small);
    publish(big);

    // basic.get of the big one: spliced; the frames carry exactly its bytes.
    p::basic_get g;
    g.queue = "q";
    g.no_ack = true;
    c.send(1, g);
    server::session::output o;
    REQUIRE(c.s.take_output(o));
    CHECK(o.splices.size() == 2);  // 200000 bytes at frame_max 131072: two body frames
    CHECK(o.size() == o.bytes.size() + big.size());
    c.s.output_written(o.size());
    c.pending += flatten(o);
    auto read_body = [&](std::size_t first_body_frame) {
        auto f = c.read();
        std::string got;
        for (std::size_t i = first_body_frame; i < f.size(); ++i) {
            CHECK(f[i].type == p::frame_type::body);
            got += f[i].payload;
        }
        return got;
    };
    CHECK(read_body(2) == big);

    // consume the rest: the small body is copied, the big one spliced again
    p::basic_consume bc;
    bc.queue = "q";
    bc.no_ack = true;
    c.send(1, bc);
    REQUIRE(c.s.take_output(o));
    CHECK(o.splices.size() == 2);
    c.s.output_written(o.size());
    c.pending += flatten(o);
    auto f = c.read();
    // consume-ok, deliver, header, body (small), deliver, header, body, body (big)
    REQUIRE(f.size() == 8);
    CHECK(f[3].payload == small);
    CHECK(f[6].payload + f[7].payload == big);
}

TEST_CASE("publisher confirms of one input batch are coalesced into one multiple ack") {
    peer c;
    c.handshake();
    c.open_channel(1);
    c.send(1, p::confirm_select{});
    c.read();
    std::string out;
    p::basic_publish nowhere;
    nowhere.routing_key = "nowhere";
    for (int i = 0; i < 10; ++i) append_publish(out, nowhere, "x");
    c.s.feed(out);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    auto ack = std::get<p::basic_ack>(c.method_of(f[0]));
    CHECK(ack.delivery_tag == 10);
    CHECK(ack.multiple);
}

TEST_CASE("a frame larger than frame_max is 501 FRAME_ERROR") {
    peer c;
    c.handshake();
    std::string out;
    p::append_frame(out, p::frame_type::body, 1, std::string(200000, 'x'));
    c.s.feed(out);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    CHECK(std::get<p::connection_close>(c.method_of(f[0])).reply_code == 501);
    CHECK(c.s.finished());
}

TEST_CASE("guest may log in from loopback only") {
    broker::broker brk;
    warren::set_log_level(warren::log_level::none);
    server::session remote{brk, server::session_options{}, "192.0.2.7:4000", false};
    remote.feed(p::protocol_header);
    std::string out;
    remote.take_output(out);
    p::connection_start_ok ok;
    p::field_table caps;
    caps.add("authentication_failure_close", true);
    ok.client_properties.add("capabilities", caps);
    ok.mechanism = "PLAIN";
    ok.response = std::string("\0guest\0guest", 12);
    std::string in;
    p::append_method_frame(in, 0, ok);
    remote.feed(in);
    REQUIRE(remote.take_output(out));
    auto r = p::parse_frame(out, 0);
    REQUIRE(r.consumed > 0);
    auto m = p::decode_method(r.frame.payload);
    REQUIRE(m.has_value());
    auto close = std::get<p::connection_close>(*m);
    CHECK(close.reply_code == 403);

    // The same credentials from a loopback address are fine (see the handshake test above).
    brk.add_user(broker::user{.name = "app", .password = "secret", .loopback_only = false});
    server::session app{brk, server::session_options{}, "192.0.2.8:4000", false};
    app.feed(p::protocol_header);
    app.take_output(out);
    ok.response = std::string("\0app\0secret", 11);
    in.clear();
    p::append_method_frame(in, 0, ok);
    app.feed(in);
    REQUIRE(app.take_output(out));
    r = p::parse_frame(out, 0);
    m = p::decode_method(r.frame.payload);
    REQUIRE(m.has_value());
    CHECK(std::holds_alternative<p::connection_tune>(*m));
}

TEST_CASE("unknown methods are 540 with their ids; a method on channel 0 is 504") {
    peer c;
    c.handshake();
    c.open_channel(1);
    std::string out;
    p::append_frame(out, p::frame_type::method, 1, std::string("\x00\x3c\x03\xe7", 4));  // 60.999
    c.s.feed(out);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    auto close = std::get<p::connection_close>(c.method_of(f[0]));
    CHECK(close.reply_code == 540);
    CHECK(close.class_id == 60);
    CHECK(close.method_id == 999);

    peer d;
    d.handshake();
    p::queue_declare q;
    d.send(0, q);
    f = d.read();
    REQUIRE(f.size() == 1);
    close = std::get<p::connection_close>(d.method_of(f[0]));
    CHECK(close.reply_code == 504);
    CHECK(close.reply_text == "CHANNEL_ERROR - unexpected method in connection state running");
}

TEST_CASE(
    "one read that publishes, rebinds and deletes the exchange routes each publish by the state at "
    "its turn") {
    // The routing look-ahead prefetches for publishes later in the same read: the frames in
    // between (unbind, bind, exchange.delete) must still decide where each message goes, and
    // a deleted exchange must not be touched (ASan checks the latter).
    peer c;
    c.handshake();
    c.open_channel(1);
    c.open_channel(2);
    p::exchange_declare x;
    x.exchange = "x";
    x.type = "direct";
    c.send(1, x);
    for (const char* name : {"a", "b"}) {
        p::queue_declare q;
        q.queue = name;
        c.send(1, q);
    }
    p::queue_bind bind_a;
    bind_a.queue = "a";
    bind_a.exchange = "x";
    bind_a.routing_key = "k";
    c.send(1, bind_a);
    CHECK(c.read().size() == 4);

    std::string out;
    auto publish = [&](const std::string& body) {
        p::basic_publish pub;
        pub.exchange = "x";
        pub.routing_key = "k";
        append_publish(out, pub, body);
    };
    for (int i = 0; i < 3; ++i) publish("to a");
    p::queue_unbind unbind_a;
    unbind_a.queue = "a";
    unbind_a.exchange = "x";
    unbind_a.routing_key = "k";
    p::append_method_frame(out, 1, unbind_a);
    p::queue_bind bind_b = bind_a;
    bind_b.queue = "b";
    p::append_method_frame(out, 1, bind_b);
    for (int i = 0; i < 2; ++i) publish("to b");
    p::exchange_delete del;
    del.exchange = "x";
    p::append_method_frame(out, 1, del);
    for (int i = 0; i < 3; ++i) publish("nowhere");
    c.s.feed(out);

    auto f = c.read();
    REQUIRE(f.size() == 4);
    CHECK(std::holds_alternative<p::queue_unbind_ok>(c.method_of(f[0])));
    CHECK(std::holds_alternative<p::queue_bind_ok>(c.method_of(f[1])));
    CHECK(std::holds_alternative<p::exchange_delete_ok>(c.method_of(f[2])));
    auto close = std::get<p::channel_close>(c.method_of(f[3]));
    CHECK(close.reply_code == 404);

    for (auto [name, count] : {std::pair{"a", 3u}, std::pair{"b", 2u}}) {
        p::queue_declare passive;
        passive.queue = name;
        passive.passive = true;
        c.send(2, passive);
        auto r = c.read();
        REQUIRE(r.size() == 1);
        CHECK(std::get<p::queue_declare_ok>(c.method_of(r[0])).message_count == count);
    }
}

TEST_CASE("a connection error in the middle of a read of publishes closes the connection cleanly") {
    // The frames after the error are parsed (and ignored) with the broker connection already
    // gone: the routing look-ahead must not touch it.
    peer c;
    c.handshake();
    c.open_channel(1);
    std::string out;
    for (int i = 0; i < 8; ++i) {
        p::basic_publish pub;
        pub.exchange = "amq.direct";
        pub.routing_key = "k" + std::to_string(i);
        pub.immediate = i == 2;  // 540 NOT_IMPLEMENTED: a connection error
        append_publish(out, pub, "x");
    }
    c.s.feed(out);
    auto f = c.read();
    REQUIRE(f.size() == 1);
    auto close = std::get<p::connection_close>(c.method_of(f[0]));
    CHECK(close.reply_code == 540);
}

TEST_CASE(
    "publisher flow control slows a connection's reads while it publishes into a backlog, not "
    "while it only consumes and acks the backlog it published earlier") {
    peer c;
    c.handshake();
    c.open_channel(1);
    p::queue_declare d;
    d.queue = "backlog";
    c.send(1, d);
    c.read();
    p::basic_publish pub;
    pub.routing_key = "backlog";
    std::string out;
    for (int i = 0; i < 3000; ++i) append_publish(out, pub, "x");
    c.s.feed(out);
    CHECK_FALSE(c.s.input_throttled());  // no consumers: filling a queue is allowed
    p::basic_qos qos;
    qos.prefetch_count = 10;
    c.send(1, qos);
    p::basic_consume bc;
    bc.queue = "backlog";
    c.send(1, bc);
    auto got = c.read();
    CHECK(got.size() > 10);  // consume-ok and the first deliveries
    // The queue now has a consumer and ~3,000 ready messages, counted against this connection,
    // which published them; its last input was a basic.consume, so its reads go on at full speed
    // (throttling them would slow the acks that drain the backlog).
    CHECK_FALSE(c.s.input_throttled());
    out.clear();
    append_publish(out, pub, "y");
    c.s.feed(out);
    CHECK(c.s.input_throttled());  // publishing into the backlog: slowed
    p::basic_ack ack;
    ack.delivery_tag = 10;
    ack.multiple = true;
    c.send(1, ack);
    CHECK_FALSE(c.s.input_throttled());  // acking only
}
