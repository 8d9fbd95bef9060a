// rpc_server: a worker whose handler result is the reply.
#include <warren/client/channel.hpp>
#include <warren/common/log.hpp>
#include <warren/service/rpc.hpp>

namespace warren::detail {

namespace asio = boost::asio;

class rpc_server_core : public std::enable_shared_from_this<rpc_server_core> {
  public:
    using fn = std::function<asio::awaitable<std::string>(message_context&)>;

    rpc_server_core(connection& conn, rpc_server_options o)
        : conn_(conn), options_(std::move(o)), worker_(conn, worker_settings(options_)) {}

    static asio::awaitable<void> run(std::shared_ptr<rpc_server_core> self, fn f,
                                     std::string content_type) {
        if (self->options_.declare_queue) {
            auto ch = co_await self->conn_.open_channel();
            co_await ch.declare_queue(self->options_.queue);  // as RabbitMQ's tutorial: plain
            co_await ch.close();
        }
        self->replies_.emplace(co_await self->conn_.open_channel());
        self->f_ = std::move(f);
        self->content_type_ = std::move(content_type);
        // The worker is a member of `self`, which this coroutine keeps alive while it runs.
        co_await self->worker_.run(
            [core = self.get()](message_context& m) { return core->serve(m); });
        if (self->replies_->is_open()) co_await self->replies_->close();
    }

    void stop() { worker_.stop(); }
    worker_stats stats() const noexcept { return worker_.stats(); }

  private:
    static worker_options worker_settings(const rpc_server_options& o) {
        if (o.queue.empty()) throw std::invalid_argument("warren::rpc_server: no request queue");
        worker_options w;
        w.queues = {o.queue};
        w.prefetch = std::max<std::uint16_t>(o.concurrency, 1);
        w.concurrency = w.prefetch;
        w.retry = retry_policy::none();
        w.declare_topology = false;  // failures become error replies, never dead letters
        w.drain_timeout = o.drain_timeout;
        w.middleware = o.middleware;
        return w;
    }

    asio::awaitable<verdict> serve(message_context& m) {
        basic_properties reply;
        reply.correlation_id = m.properties().correlation_id;
        std::string body;
        std::optional<std::string> error;
        try {
            body = co_await f_(m);
        } catch (const boost::system::system_error& e) {
            if (e.code() == asio::error::operation_aborted && worker_.stopping())
                throw;  // the drain: requeue
            error = e.what();
        } catch (const std::exception& e) {
            error = e.what();
        } catch (...) {
            error = "the handler threw an exception that is not a std::exception";
        }
        if (error) {
            reply.headers = field_table().with(std::string(rpc_error_header), *error);
            body = std::move(*error);
        } else if (!content_type_.empty()) {
            reply.content_type = content_type_;
        }
        co_return co_await send(m, std::move(body), std::move(reply));
    }

    asio::awaitable<verdict> send(message_context& m, std::string body, basic_properties reply) {
        const auto& to = m.properties().reply_to;
        if (!to || to->empty()) {
            log(log_level::warning,
                "rpc_server '" + options_.queue + "': a request without reply_to: no reply sent");
            co_return verdict::ack();
        }
        try {
            if (!replies_->is_open()) replies_.emplace(co_await conn_.open_channel());
            co_await replies_->publish("", *to, std::move(body), std::move(reply));
        } catch (const std::exception& e) {
            // The caller times out; retrying the request would run its handler again.
            log(log_level::warning,
                "rpc_server '" + options_.queue + "': cannot send a reply: " + e.what());
        }
        co_return verdict::ack();
    }

    connection& conn_;
    rpc_server_options options_;
    worker worker_;
    std::optional<channel> replies_;
    fn f_;
    std::string content_type_;
};

}  // namespace warren::detail

namespace warren {

rpc_server::rpc_server(connection& conn, rpc_server_options options)
    : core_(std::make_shared<detail::rpc_server_core>(conn, std::move(options))) {}
rpc_server::~rpc_server() = default;

boost::asio::awaitable<void> rpc_server::run_raw(
    std::function<boost::asio::awaitable<std::string>(message_context&)> f,
    std::string content_type) {
    return detail::rpc_server_core::run(core_, std::move(f), std::move(content_type));
}

void rpc_server::stop() { core_->stop(); }
worker_stats rpc_server::stats() const noexcept { return core_->stats(); }

}  // namespace warren
