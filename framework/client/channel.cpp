// The public channel: each operation is a coroutine that owns a reference to the channel state,
// so the handle may be moved or destroyed while the operation runs.
#include "channel_impl.hpp"

#include <stdexcept>

namespace warren {

namespace asio = boost::asio;
namespace p = protocol;
using detail::channel_impl;
using detail::key_of;
using impl_ptr = std::shared_ptr<channel_impl>;

namespace {

const impl_ptr& checked(const impl_ptr& impl) {
    if (!impl) throw std::logic_error("warren::channel: use of a moved-from channel");
    return impl;
}

template <class Reply, class M>
asio::awaitable<Reply> call(impl_ptr ch, M m) {
    auto slot = ch->start_call(m, key_of<Reply>());
    auto r = co_await channel_impl::await_reply(ch, slot);
    co_return std::get<Reply>(std::move(r));
}

template <class Reply, class M>
asio::awaitable<void> call_void(impl_ptr ch, M m) {
    auto slot = ch->start_call(m, key_of<Reply>());
    co_await channel_impl::await_reply(ch, slot);
}

asio::awaitable<void> do_settle(impl_ptr ch, channel_impl::settle_op op, std::uint64_t tag,
                                bool multiple, bool requeue) {
    ch->settle(op, tag, multiple, requeue);
    co_return;
}

asio::awaitable<consumer> do_consume(impl_ptr ch, std::string queue, std::string tag,
                                     consume_options o, field_table arguments) {
    if (tag.empty()) tag = ch->next_consumer_tag();
    auto st = ch->add_consumer(tag, o.no_ack);
    auto slot = ch->start_call(p::basic_consume{.queue = std::move(queue),
                                                .consumer_tag = tag,
                                                .no_local = o.no_local,
                                                .no_ack = o.no_ack,
                                                .exclusive = o.exclusive,
                                                .arguments = std::move(arguments)},
                               key_of<p::basic_consume_ok>());
    try {
        co_await channel_impl::await_reply(ch, slot);
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) ch->abandon_consumer(st);
        throw;
    }
    co_return channel_impl::make_consumer(ch, st);
}

asio::awaitable<consumer> do_consume_many(impl_ptr ch, std::vector<std::string> queues,
                                          std::string prefix, consume_options o,
                                          field_table arguments) {
    if (queues.empty()) throw std::invalid_argument("warren::channel::consume_many: no queues");
    auto stream = ch->add_stream(o.no_ack);
    std::vector<std::shared_ptr<detail::rpc_slot>> slots;
    slots.reserve(queues.size());
    try {
        for (std::size_t i = 0; i < queues.size(); ++i) {
            std::string tag =
                prefix.empty() ? ch->next_consumer_tag() : prefix + "." + std::to_string(i);
            auto st = ch->add_consumer(tag, o.no_ack);
            channel_impl::join(stream, st);
            slots.push_back(ch->start_call(p::basic_consume{.queue = std::move(queues[i]),
                                                            .consumer_tag = std::move(tag),
                                                            .no_local = o.no_local,
                                                            .no_ack = o.no_ack,
                                                            .exclusive = o.exclusive,
                                                            .arguments = arguments},
                                           key_of<p::basic_consume_ok>()));
        }
        for (auto& slot : slots) co_await channel_impl::await_reply(ch, slot);
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) ch->abandon_consumer(stream);
        throw;
    } catch (const std::logic_error&) {  // a tag already in use: undo the ones started
        ch->abandon_consumer(stream);
        throw;
    }
    co_return channel_impl::make_consumer(ch, stream);
}

asio::awaitable<std::optional<delivery>> do_get(impl_ptr ch, std::string queue, get_options o) {
    auto slot = ch->start_call(p::basic_get{.queue = std::move(queue), .no_ack = o.no_ack},
                               key_of<p::basic_get_ok>(), key_of<p::basic_get_empty>());
    slot->requeue_on_abandon = !o.no_ack;
    auto r = co_await channel_impl::await_reply(ch, slot);
    if (std::holds_alternative<p::basic_get_empty>(r)) co_return std::nullopt;
    auto d = channel_impl::take_content(*slot);
    channel_impl::attach(d, ch);
    co_return d;
}

asio::awaitable<std::shared_ptr<detail::confirm_state>> do_start_publish(
    impl_ptr ch, std::string exchange, std::string routing_key, std::string body,
    basic_properties props, publish_options o) {
    // Every wait happens before anything is sent: a cancelled publish either sent nothing or
    // sent the message and registered its confirm, never half of it.
    for (;;) {
        ch->check_usable();
        if (!ch->conn().publishable()) {
            co_await ch->conn().wait_publishable();
        } else if (!ch->window_open()) {
            co_await ch->confirms_changed().wait();
        } else {
            break;
        }
    }
    if (o.persistent) props.delivery_mode = 2;
    co_return ch->send_publish(p::basic_publish{.exchange = std::move(exchange),
                                                .routing_key = std::move(routing_key),
                                                .mandatory = o.mandatory},
                               props, body);
}

asio::awaitable<void> wait_confirm(std::shared_ptr<detail::confirm_state> c) {
    using status = detail::confirm_state::status;
    while (c->st == status::pending) co_await c->done_signal.wait();
    if (c->st == status::nacked) throw publish_nacked(c->sequence);
    if (c->st == status::failed) std::rethrow_exception(c->error);
}

asio::awaitable<void> do_publish(impl_ptr ch, std::string exchange, std::string routing_key,
                                 std::string body, basic_properties props, publish_options o) {
    auto c = co_await do_start_publish(ch, std::move(exchange), std::move(routing_key),
                                       std::move(body), std::move(props), o);
    if (c) co_await wait_confirm(std::move(c));
}

asio::awaitable<confirmation> do_start_publish_public(impl_ptr ch, std::string exchange,
                                                      std::string routing_key, std::string body,
                                                      basic_properties props, publish_options o) {
    auto c = co_await do_start_publish(ch, std::move(exchange), std::move(routing_key),
                                       std::move(body), std::move(props), o);
    co_return channel_impl::make_confirmation(std::move(c));
}

asio::awaitable<bool> do_wait_for_confirms(impl_ptr ch) {
    while (ch->unconfirmed() != 0) {
        ch->check_usable();
        co_await ch->confirms_changed().wait();
    }
    co_return ch->take_all_acked();
}

asio::awaitable<void> do_confirm_select(impl_ptr ch) {
    auto slot = ch->start_call(p::confirm_select{}, key_of<p::confirm_select_ok>());
    ch->enter_confirm_mode();  // the broker numbers every publish sent after the select
    co_await channel_impl::await_reply(ch, slot);
}

asio::awaitable<returned_message> do_next_return(impl_ptr ch) {
    // As consumer::next(): only a cancellable call suspends before taking a buffered return.
    bool may_take = !(co_await asio::this_coro::cancellation_state).slot().is_connected();
    for (;;) {
        if (!ch->returns().empty()) {
            if (!may_take) {
                co_await detail::suspend_then_check();
                may_take = true;
                continue;
            }
            auto r = std::move(ch->returns().front());
            ch->returns().pop_front();
            co_return r;
        }
        ch->check_usable();
        co_await ch->returns_changed().wait();
        may_take = true;
    }
}

asio::awaitable<void> do_close(impl_ptr ch) {
    if (ch->current_state() == channel_impl::state::closed) co_return;
    auto slot = ch->start_call(p::channel_close{.reply_code = 200, .reply_text = "Goodbye"},
                               key_of<p::channel_close_ok>());
    ch->begin_close();
    co_await channel_impl::await_reply(ch, slot);
}

}  // namespace

std::uint16_t channel::id() const noexcept { return impl_ ? impl_->id() : 0; }
bool channel::is_open() const noexcept {
    return impl_ && impl_->current_state() == channel_impl::state::open;
}
asio::any_io_executor channel::get_executor() const { return checked(impl_)->executor(); }

asio::awaitable<void> channel::declare_exchange(std::string name, std::string type,
                                                exchange_options o, field_table arguments) {
    return call_void<p::exchange_declare_ok>(
        checked(impl_), p::exchange_declare{.exchange = std::move(name),
                                            .type = std::move(type),
                                            .passive = o.passive,
                                            .durable = o.durable,
                                            .auto_delete = o.auto_delete,
                                            .internal = o.internal,
                                            .arguments = std::move(arguments)});
}
asio::awaitable<void> channel::declare_exchange(std::string name, exchange_type type,
                                                exchange_options o, field_table arguments) {
    return declare_exchange(std::move(name), to_string(type), o, std::move(arguments));
}
asio::awaitable<void> channel::delete_exchange(std::string name, delete_exchange_options o) {
    return call_void<p::exchange_delete_ok>(
        checked(impl_), p::exchange_delete{.exchange = std::move(name), .if_unused = o.if_unused});
}
asio::awaitable<void> channel::bind_exchange(std::string destination, std::string source,
                                             std::string routing_key, field_table arguments) {
    return call_void<p::exchange_bind_ok>(checked(impl_),
                                          p::exchange_bind{.destination = std::move(destination),
                                                           .source = std::move(source),
                                                           .routing_key = std::move(routing_key),
                                                           .arguments = std::move(arguments)});
}
asio::awaitable<void> channel::unbind_exchange(std::string destination, std::string source,
                                               std::string routing_key, field_table arguments) {
    return call_void<p::exchange_unbind_ok>(
        checked(impl_), p::exchange_unbind{.destination = std::move(destination),
                                           .source = std::move(source),
                                           .routing_key = std::move(routing_key),
                                           .arguments = std::move(arguments)});
}

asio::awaitable<queue_info> channel::declare_queue(std::string name, queue_options o,
                                                   field_table arguments) {
    return [](impl_ptr ch, p::queue_declare m) -> asio::awaitable<queue_info> {
        auto ok = co_await call<p::queue_declare_ok>(ch, std::move(m));
        queue_info info;
        info.name = std::move(ok.queue);
        info.message_count = ok.message_count;
        info.consumer_count = ok.consumer_count;
        co_return info;
    }(checked(impl_), p::queue_declare{.queue = std::move(name),
                                       .passive = o.passive,
                                       .durable = o.durable,
                                       .exclusive = o.exclusive,
                                       .auto_delete = o.auto_delete,
                                       .arguments = std::move(arguments)});
}
asio::awaitable<void> channel::bind_queue(std::string queue, std::string exchange,
                                          std::string routing_key, field_table arguments) {
    return call_void<p::queue_bind_ok>(checked(impl_),
                                       p::queue_bind{.queue = std::move(queue),
                                                     .exchange = std::move(exchange),
                                                     .routing_key = std::move(routing_key),
                                                     .arguments = std::move(arguments)});
}
asio::awaitable<void> channel::unbind_queue(std::string queue, std::string exchange,
                                            std::string routing_key, field_table arguments) {
    return call_void<p::queue_unbind_ok>(checked(impl_),
                                         p::queue_unbind{.queue = std::move(queue),
                                                         .exchange = std::move(exchange),
                                                         .routing_key = std::move(routing_key),
                                                         .arguments = std::move(arguments)});
}
asio::awaitable<std::uint32_t> channel::purge_queue(std::string queue) {
    return [](impl_ptr ch, std::string q) -> asio::awaitable<std::uint32_t> {
        p::queue_purge m{.queue = std::move(q)};
        auto ok = co_await call<p::queue_purge_ok>(ch, std::move(m));
        co_return ok.message_count;
    }(checked(impl_), std::move(queue));
}
asio::awaitable<std::uint32_t> channel::delete_queue(std::string queue, delete_queue_options o) {
    return [](impl_ptr ch, std::string q,
              delete_queue_options opts) -> asio::awaitable<std::uint32_t> {
        p::queue_delete m{
            .queue = std::move(q), .if_unused = opts.if_unused, .if_empty = opts.if_empty};
        auto ok = co_await call<p::queue_delete_ok>(ch, std::move(m));
        co_return ok.message_count;
    }(checked(impl_), std::move(queue), o);
}

asio::awaitable<void> channel::set_prefetch(std::uint16_t count, prefetch_scope scope) {
    return call_void<p::basic_qos_ok>(
        checked(impl_),
        p::basic_qos{.prefetch_count = count, .global = scope == prefetch_scope::channel});
}
asio::awaitable<consumer> channel::consume(std::string queue, consume_options options,
                                           field_table arguments, std::string tag) {
    return do_consume(checked(impl_), std::move(queue), std::move(tag), options,
                      std::move(arguments));
}
asio::awaitable<consumer> channel::consume_many(std::vector<std::string> queues,
                                                consume_options options, field_table arguments,
                                                std::string tag_prefix) {
    return do_consume_many(checked(impl_), std::move(queues), std::move(tag_prefix), options,
                           std::move(arguments));
}
asio::awaitable<std::optional<delivery>> channel::get(std::string queue, get_options options) {
    return do_get(checked(impl_), std::move(queue), options);
}
asio::awaitable<void> channel::ack(std::uint64_t tag, multiple m) {
    return do_settle(checked(impl_), channel_impl::settle_op::ack, tag, m == multiple::yes, false);
}
asio::awaitable<void> channel::nack(std::uint64_t tag, requeue r, multiple m) {
    return do_settle(checked(impl_), channel_impl::settle_op::nack, tag, m == multiple::yes,
                     r == requeue::yes);
}
asio::awaitable<void> channel::reject(std::uint64_t tag, requeue r) {
    return do_settle(checked(impl_), channel_impl::settle_op::reject, tag, false,
                     r == requeue::yes);
}
asio::awaitable<void> channel::recover(requeue r) {
    return call_void<p::basic_recover_ok>(checked(impl_),
                                          p::basic_recover{.requeue = r == requeue::yes});
}
asio::awaitable<void> channel::tx_select() {
    return call_void<p::tx_select_ok>(checked(impl_), p::tx_select{});
}
asio::awaitable<void> channel::tx_commit() {
    return call_void<p::tx_commit_ok>(checked(impl_), p::tx_commit{});
}
asio::awaitable<void> channel::tx_rollback() {
    return call_void<p::tx_rollback_ok>(checked(impl_), p::tx_rollback{});
}
asio::awaitable<void> channel::confirm_select() { return do_confirm_select(checked(impl_)); }
bool channel::confirm_mode() const noexcept { return impl_ && impl_->confirm_mode(); }

asio::awaitable<void> channel::publish(std::string exchange, std::string routing_key,
                                       std::string body, publish_options options) {
    return do_publish(checked(impl_), std::move(exchange), std::move(routing_key), std::move(body),
                      {}, options);
}
asio::awaitable<void> channel::publish(std::string exchange, std::string routing_key,
                                       std::string body, basic_properties properties,
                                       publish_options options) {
    return do_publish(checked(impl_), std::move(exchange), std::move(routing_key), std::move(body),
                      std::move(properties), options);
}
asio::awaitable<confirmation> channel::start_publish(std::string exchange, std::string routing_key,
                                                     std::string body, publish_options options) {
    return do_start_publish_public(checked(impl_), std::move(exchange), std::move(routing_key),
                                   std::move(body), {}, options);
}
asio::awaitable<confirmation> channel::start_publish(std::string exchange, std::string routing_key,
                                                     std::string body, basic_properties properties,
                                                     publish_options options) {
    return do_start_publish_public(checked(impl_), std::move(exchange), std::move(routing_key),
                                   std::move(body), std::move(properties), options);
}
asio::awaitable<bool> channel::wait_for_confirms() { return do_wait_for_confirms(checked(impl_)); }
std::size_t channel::unconfirmed() const noexcept { return impl_ ? impl_->unconfirmed() : 0; }

void channel::set_return_handler(std::function<void(returned_message)> handler) {
    checked(impl_)->set_return_handler(std::move(handler));
}
asio::awaitable<returned_message> channel::next_return() { return do_next_return(checked(impl_)); }
asio::awaitable<void> channel::close() { return do_close(checked(impl_)); }

std::uint64_t confirmation::sequence() const noexcept { return state_ ? state_->sequence : 0; }
bool confirmation::settled() const noexcept {
    return !state_ || state_->st != detail::confirm_state::status::pending;
}
asio::awaitable<void> confirmation::wait() const {
    if (!state_) return []() -> asio::awaitable<void> { co_return; }();
    return wait_confirm(state_);
}

}  // namespace warren
