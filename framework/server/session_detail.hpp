#pragma once
// Private to the server module: per-channel state of a session.

#include <warren/broker/message.hpp>
#include <warren/server/session.hpp>

#include <cstdint>
#include <memory>

namespace warren::server {

struct session::channel_slot {
    enum class status { open, closing };
    enum class content { none, header, body };

    std::uint16_t id = 0;
    status st = status::open;
    broker::channel* ch = nullptr;
    // content assembly for basic.publish
    content expect = content::none;
    protocol::basic_publish publish;
    std::shared_ptr<broker::message> msg;
    std::uint64_t body_size = 0;
    std::uint64_t body_received = 0;
    bool oversized = false;  // over max_message_size: the body is read and dropped, then 406
    // publisher confirms, coalesced into one basic.ack(multiple) per input batch
    std::uint64_t confirm_upto = 0;
    std::uint64_t confirm_sent = 0;
};

/// Erlang's ~p rendering of a binary, as RabbitMQ puts frames into reply texts:
/// <<"abc">> when printable, else <<0,20,0,40>>; long ones are cut with "...".
std::string erlang_binary(std::string_view bytes);

template <class M>
void session::send(std::uint16_t channel, const M& m) {
    protocol::append_method_frame(out_, channel, m);
}

}  // namespace warren::server
