#pragma once
// Request/reply over AMQP, as RabbitMQ's RPC tutorial, made robust: correlation ids, direct
// reply-to by default, many concurrent calls on one channel, per-call timeout and
// cancellation, late replies dropped, remote errors as a typed error, typed calls via codecs.
//
//     auto rpc = co_await warren::rpc_client::open(conn);
//     auto reply = co_await rpc.call("rpc.fib", "30", {}, 2s);      // throws rpc_error,
//     timeout_error
//
//     warren::rpc_server server{conn, {.queue = "rpc.fib"}};
//     co_await server.run([](warren::message_context& m) -> asio::awaitable<std::string> {
//         co_return std::to_string(fib(std::stoi(m.body())));        // throws -> error reply
//     });

#include <warren/client/connection.hpp>
#include <warren/client/delivery.hpp>
#include <warren/service/codec.hpp>
#include <warren/service/worker.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace warren {

/// A call that failed on the other side, or never reached it.
class rpc_error : public std::runtime_error {
  public:
    enum class reason {
        remote,  ///< the server's handler failed; what() is its error (the reply's x-error header)
        unroutable,  ///< no queue took the request (the broker returned the mandatory publish)
    };
    rpc_error(reason r, const std::string& what) : std::runtime_error(what), reason_(r) {}
    reason why() const noexcept { return reason_; }

  private:
    reason reason_;
};

/// The header that marks a reply as an error; its value is the error message.
inline constexpr std::string_view rpc_error_header = "x-error";

struct rpc_client_options {
    enum class reply_queue {
        automatic,  ///< direct reply-to when the broker offers it (RabbitMQ, warren-broker), else
                    ///< exclusive
        direct,     ///< amq.rabbitmq.reply-to: no queue at all
        exclusive,  ///< an exclusive server-named queue of this client
    };
    reply_queue replies = reply_queue::automatic;
    /// The timeout of a call that gives none.
    std::chrono::milliseconds timeout{5000};
    /// Publish requests as mandatory: a request no queue takes fails at once (rpc_error
    /// unroutable) instead of timing out.
    bool mandatory = true;
};

namespace detail {
class rpc_client_core;
class rpc_server_core;
}  // namespace detail

/// Calls over one channel of a connection. Any number of calls may be in flight at once (from
/// any number of coroutines on the connection's executor).
///
/// Lifetime: move-only; `conn` must outlive it. Destroying it fails the calls still waiting
/// (they throw channel_error) and closes its channel in the background.
class rpc_client {
  public:
    /// Opens a channel on `conn` and starts consuming replies. Throws channel_error /
    /// connection_error.
    static boost::asio::awaitable<rpc_client> open(connection& conn,
                                                   rpc_client_options options = {});

    rpc_client(rpc_client&&) noexcept;
    rpc_client& operator=(rpc_client&&) noexcept;
    rpc_client(const rpc_client&) = delete;
    rpc_client& operator=(const rpc_client&) = delete;
    ~rpc_client();

    /// Sends `body` to `routing_key` through `exchange` (default: the default exchange, i.e.
    /// the queue named `routing_key`) with a fresh correlation_id and reply_to, and waits for
    /// the reply with that id. `timeout` 0 = rpc_client_options::timeout.
    /// Returns the reply (its body, properties). Throws rpc_error (remote: the reply carries
    /// x-error; unroutable), timeout_error, channel_error / connection_error (the connection
    /// was lost: every waiting call fails at once, none hangs).
    /// Cancellation: the call stops waiting (operation_aborted); a reply that comes later is
    /// dropped, as is any reply after a timeout.
    boost::asio::awaitable<delivery> call(
        std::string routing_key, std::string body, basic_properties properties = {},
        std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
        std::string exchange = {});

    /// A typed call: `request` encoded by Codec, the reply decoded into Response (decode_error
    /// if it does not decode).
    template <class Response, class Codec = json_codec, class Request>
    boost::asio::awaitable<Response> call_as(
        std::string routing_key, const Request& request,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        basic_properties p;
        p.content_type = std::string(Codec::content_type);
        auto reply = co_await call(std::move(routing_key), Codec::template encode<Request>(request),
                                   std::move(p), timeout);
        co_return Codec::template decode<Response>(reply.body());
    }

    /// Calls waiting for their reply.
    std::size_t pending() const noexcept;
    /// Replies that arrived for no waiting call (after a timeout or a cancellation) and were
    /// dropped.
    std::uint64_t late_replies() const noexcept;
    /// The reply_to every request carries.
    const std::string& reply_to() const noexcept;

    /// Fails the waiting calls and closes the channel.
    boost::asio::awaitable<void> close();

  private:
    explicit rpc_client(std::shared_ptr<detail::rpc_client_core> core) noexcept;
    std::shared_ptr<detail::rpc_client_core> core_;
};

struct rpc_server_options {
    /// The request queue.
    std::string queue;
    /// Requests handled at once (also the prefetch).
    std::uint16_t concurrency = 8;
    /// Declare `queue` as RabbitMQ's tutorial does: not durable, not exclusive, not auto-delete.
    bool declare_queue = true;
    std::chrono::milliseconds drain_timeout{10000};
    std::vector<warren::middleware> middleware;
};

/// Serves requests from one queue: each handler's result is the reply (to the request's
/// reply_to, with its correlation_id); an exception becomes an error reply (header x-error with
/// the message, the message as the body). Requests are acked after their reply was sent.
/// Built on worker: concurrency, middleware, counters and the graceful drain are the worker's.
///
/// Lifetime: `conn` must outlive it.
class rpc_server {
  public:
    rpc_server(connection& conn, rpc_server_options options);
    ~rpc_server();
    rpc_server(const rpc_server&) = delete;
    rpc_server& operator=(const rpc_server&) = delete;

    /// Serves until stop() (drains, returns) or a connection failure (throws).
    /// `f` is F(message_context&) -> awaitable<std::string>.
    template <class F>
    requires std::is_invocable_v<F&, message_context&> boost::asio::awaitable<void> run(F f) {
        return run_raw(
            std::function<boost::asio::awaitable<std::string>(message_context&)>(std::move(f)));
    }

    /// A typed server: the request decoded by Codec into Request (a request that does not
    /// decode gets an error reply), `f` is F(Request) or F(Request, message_context&) ->
    /// awaitable<Response>, the response encoded by Codec.
    template <class Request, class Response, class Codec = json_codec, class F>
    boost::asio::awaitable<void> run(F f) {
        struct adapter {
            F f;
            boost::asio::awaitable<std::string> operator()(message_context& m) {
                return call(f, m);
            }
            static boost::asio::awaitable<std::string> call(F& fn, message_context& m) {
                Request req = [&] {
                    try {
                        return Codec::template decode<Request>(m.body());
                    } catch (const std::exception& e) {
                        throw decode_error(std::string("cannot decode the request: ") + e.what());
                    }
                }();
                if constexpr (std::is_invocable_v<F&, Request, message_context&>) {
                    co_return Codec::template encode<Response>(co_await fn(std::move(req), m));
                } else {
                    co_return Codec::template encode<Response>(co_await fn(std::move(req)));
                }
            }
        };
        return run_raw(std::function<boost::asio::awaitable<std::string>(message_context&)>(
                           adapter{std::move(f)}),
                       std::string(Codec::content_type));
    }

    void stop();
    worker_stats stats() const noexcept;

  private:
    boost::asio::awaitable<void> run_raw(
        std::function<boost::asio::awaitable<std::string>(message_context&)> f,
        std::string content_type = {});
    std::shared_ptr<detail::rpc_server_core> core_;
};

}  // namespace warren
