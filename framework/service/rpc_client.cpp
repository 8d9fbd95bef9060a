// rpc_client: one channel, one reply consumer, a table of waiting calls by correlation id.
#include <warren/client/channel.hpp>
#include <warren/client/consumer.hpp>
#include <warren/client/error.hpp>
#include <warren/client/timeout.hpp>
#include <warren/common/log.hpp>
#include <warren/common/spawn.hpp>
#include <warren/service/rpc.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <random>
#include <unordered_map>

namespace warren::detail {

namespace asio = boost::asio;

namespace {

struct pending_call {
    explicit pending_call(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;  // expires at the deadline; cancelled when the call is finished
    std::optional<delivery> reply;
    std::exception_ptr error;
    bool finished = false;
};

std::string random_prefix() {
    std::random_device rd;
    std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 16; ++i, r >>= 4) s.push_back(hex[r & 15]);
    return s + ".";
}

bool broker_offers_direct_reply_to(const connection& conn) {
    const auto* caps = conn.server_properties().find("capabilities");
    const auto* t = caps ? caps->get_if<field_table>() : nullptr;
    const auto* v = t ? t->find("direct_reply_to") : nullptr;
    const auto* b = v ? v->get_if<bool>() : nullptr;
    return b && *b;
}

}  // namespace

class rpc_client_core : public std::enable_shared_from_this<rpc_client_core> {
  public:
    rpc_client_core(channel ch, rpc_client_options o)
        : ch_(std::move(ch)), options_(o), prefix_(random_prefix()) {}

    static asio::awaitable<std::shared_ptr<rpc_client_core>> open(connection& conn,
                                                                  rpc_client_options o) {
        auto ch = co_await conn.open_channel();
        bool direct = o.replies == rpc_client_options::reply_queue::direct ||
                      (o.replies == rpc_client_options::reply_queue::automatic &&
                       broker_offers_direct_reply_to(conn));
        auto self = std::make_shared<rpc_client_core>(std::move(ch), o);
        if (direct) {
            self->reply_to_ = "amq.rabbitmq.reply-to";
        } else {
            self->reply_to_ =
                (co_await self->ch_.declare_queue("", {.exclusive = true, .auto_delete = true}))
                    .name;
        }
        self->replies_.emplace(co_await self->ch_.consume(self->reply_to_, {.no_ack = true}));
        std::weak_ptr<rpc_client_core> weak = self;
        self->ch_.set_return_handler([weak](const returned_message& r) {
            if (auto s = weak.lock()) s->on_returned(r);
        });
        spawn(self->ch_.get_executor(), read_replies(self), "rpc_client reply reader");
        co_return self;
    }

    asio::awaitable<delivery> call(std::string routing_key, std::string body,
                                   basic_properties props, std::chrono::milliseconds timeout,
                                   std::string exchange) {
        if (error_) std::rethrow_exception(error_);
        if (timeout.count() <= 0) timeout = options_.timeout;
        auto id = prefix_ + std::to_string(++next_id_);
        auto pc = std::make_shared<pending_call>(ch_.get_executor());
        pending_.emplace(id, pc);
        struct forget {
            rpc_client_core& c;
            const std::string& id;
            ~forget() { c.pending_.erase(id); }
        } guard{*this, id};
        props.correlation_id = id;
        props.reply_to = reply_to_;
        pc->timer.expires_after(timeout);
        co_await ch_.publish(std::move(exchange), std::move(routing_key), std::move(body),
                             std::move(props), {.mandatory = options_.mandatory});
        if (!pc->finished) co_await pc->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (pc->error) std::rethrow_exception(pc->error);
        if (pc->reply) {
            const auto& h = pc->reply->properties().headers;
            const auto* e = h ? h->find(rpc_error_header) : nullptr;
            if (e != nullptr) {
                const auto* text = e->as_string();
                throw rpc_error(rpc_error::reason::remote,
                                text ? *text : std::string("remote error"));
            }
            co_return std::move(*pc->reply);
        }
        if ((co_await asio::this_coro::cancellation_state).cancelled() !=
            asio::cancellation_type::none) {
            throw boost::system::system_error(asio::error::operation_aborted);
        }
        throw timeout_error(timeout);
    }

    asio::awaitable<void> close() {
        fail_all(std::make_exception_ptr(
            channel_error(protocol::reply_code::success, "the rpc_client was closed")));
        if (ch_.is_open()) co_await ch_.close();  // ends the reply consumer, and with it the reader
    }

    std::size_t pending() const noexcept { return pending_.size(); }
    std::uint64_t late_replies() const noexcept { return late_; }
    const std::string& reply_to() const noexcept { return reply_to_; }
    boost::asio::any_io_executor executor() const { return ch_.get_executor(); }

    ~rpc_client_core() = default;

    void fail_all(const std::exception_ptr& e) {
        if (!error_) error_ = e;
        for (auto& [id, pc] : pending_) finish(*pc, nullptr, e);
    }

  private:
    static void finish(pending_call& pc, std::optional<delivery>* reply,
                       const std::exception_ptr& e) {
        if (pc.finished) return;
        pc.finished = true;
        if (reply) pc.reply = std::move(*reply);
        pc.error = e;
        pc.timer.cancel();
    }

    static asio::awaitable<void> read_replies(std::shared_ptr<rpc_client_core> self) {
        try {
            while (auto d = co_await self->replies_->next()) {
                const auto& cid = d->properties().correlation_id;
                auto it = cid ? self->pending_.find(*cid) : self->pending_.end();
                if (it == self->pending_.end()) {
                    ++self->late_;  // its call timed out or was cancelled
                    continue;
                }
                std::optional<delivery> r(std::move(*d));
                finish(*it->second, &r, nullptr);
            }
            self->fail_all(std::make_exception_ptr(
                channel_error(protocol::reply_code::success,
                              "the broker cancelled the rpc_client's reply consumer")));
        } catch (...) {
            self->fail_all(std::current_exception());
        }
    }

    void on_returned(const returned_message& r) {
        const auto& cid = r.properties.correlation_id;
        auto it = cid ? pending_.find(*cid) : pending_.end();
        if (it == pending_.end()) return;
        finish(*it->second, nullptr,
               std::make_exception_ptr(rpc_error(rpc_error::reason::unroutable,
                                                 "no queue took the request (" + r.reply_text +
                                                     ", exchange '" + r.exchange +
                                                     "', routing key '" + r.routing_key + "')")));
    }

    channel ch_;
    rpc_client_options options_;
    std::optional<consumer> replies_;
    std::string reply_to_;
    std::string prefix_;
    std::uint64_t next_id_ = 0;
    std::uint64_t late_ = 0;
    std::unordered_map<std::string, std::shared_ptr<pending_call>> pending_;
    std::exception_ptr error_;
};

}  // namespace warren::detail

namespace warren {

namespace {

boost::asio::awaitable<delivery> call_impl(std::shared_ptr<detail::rpc_client_core> core,
                                           std::string routing_key, std::string body,
                                           basic_properties properties,
                                           std::chrono::milliseconds timeout,
                                           std::string exchange) {
    co_return co_await core->call(std::move(routing_key), std::move(body), std::move(properties),
                                  timeout, std::move(exchange));
}

boost::asio::awaitable<void> close_impl(std::shared_ptr<detail::rpc_client_core> core) {
    co_await core->close();
}

void close_in_background(const std::shared_ptr<detail::rpc_client_core>& core, const char* why) {
    core->fail_all(std::make_exception_ptr(channel_error(protocol::reply_code::success, why)));
    spawn(core->executor(), close_impl(core), "rpc_client close");
}

/// close_in_background from a destructor or a noexcept assignment: if even starting the close
/// fails (no memory), the calls were failed already and the channel closes with its connection.
void close_quietly(const std::shared_ptr<detail::rpc_client_core>& core, const char* why) noexcept {
    try {
        close_in_background(core, why);
    } catch (...) {  // nothing to report to from here
    }
}

}  // namespace

boost::asio::awaitable<rpc_client> rpc_client::open(connection& conn, rpc_client_options options) {
    co_return rpc_client(co_await detail::rpc_client_core::open(conn, options));
}

rpc_client::rpc_client(std::shared_ptr<detail::rpc_client_core> core) noexcept
    : core_(std::move(core)) {}
rpc_client::rpc_client(rpc_client&&) noexcept = default;
rpc_client& rpc_client::operator=(rpc_client&& other) noexcept {
    if (this != &other) {
        if (core_) close_quietly(core_, "the rpc_client was replaced");
        core_ = std::move(other.core_);
    }
    return *this;
}
rpc_client::~rpc_client() {
    if (core_) close_quietly(core_, "the rpc_client was destroyed");
}

boost::asio::awaitable<delivery> rpc_client::call(std::string routing_key, std::string body,
                                                  basic_properties properties,
                                                  std::chrono::milliseconds timeout,
                                                  std::string exchange) {
    if (!core_) throw std::logic_error("warren::rpc_client: use of a moved-from client");
    return call_impl(core_, std::move(routing_key), std::move(body), std::move(properties), timeout,
                     std::move(exchange));
}

std::size_t rpc_client::pending() const noexcept { return core_ ? core_->pending() : 0; }
std::uint64_t rpc_client::late_replies() const noexcept {
    return core_ ? core_->late_replies() : 0;
}
const std::string& rpc_client::reply_to() const noexcept {
    static const std::string none;
    return core_ ? core_->reply_to() : none;
}
boost::asio::awaitable<void> rpc_client::close() {
    if (!core_) throw std::logic_error("warren::rpc_client: use of a moved-from client");
    return close_impl(core_);
}

}  // namespace warren
