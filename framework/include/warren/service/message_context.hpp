#pragma once
// message_context: what a handler gets for one message: the delivery, its attempt number, and
// a confirmed publish for the messages it produces (with tracing headers carried over).

#include <warren/client/delivery.hpp>
#include <warren/client/options.hpp>
#include <warren/service/codec.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace warren {

namespace detail {
/// Where a handler's outputs go (the worker's confirmed publisher channel).
class output_port {
  public:
    virtual boost::asio::awaitable<void> publish(std::string exchange, std::string routing_key,
                                                 std::string body, basic_properties properties,
                                                 publish_options options) = 0;

  protected:
    ~output_port() = default;
};
}  // namespace detail

/// One message being handled. Owned by the worker for the duration of the handler call: keep
/// references to it (and to its body) only until the handler returns.
///
/// Threading: use from the handler's coroutine (the worker's executor).
class message_context {
  public:
    /// Made by the worker; `queue`, `propagate` and `out` must outlive the context.
    message_context(delivery&& d, const std::string& queue, unsigned attempt,
                    const std::vector<std::string>& propagate, detail::output_port& out,
                    boost::asio::any_io_executor ex)
        : delivery_(std::move(d)),
          queue_(&queue),
          attempt_(attempt),
          propagate_(&propagate),
          out_(&out),
          executor_(std::move(ex)) {}

    const std::string& body() const noexcept { return delivery_.body(); }
    const basic_properties& properties() const noexcept { return delivery_.properties(); }
    /// A header of the message, or nullptr.
    const field_value* header(std::string_view name) const noexcept;
    /// The queue the message was consumed from.
    const std::string& queue() const noexcept { return *queue_; }
    /// 1 for the first handling, 2 for the first retry, ... (from the `x-attempts` header).
    unsigned attempt() const noexcept { return attempt_; }
    bool redelivered() const noexcept { return delivery_.redelivered(); }
    /// The underlying delivery (exchange, routing key, tags). Do not settle it: the worker does.
    const delivery& raw() const noexcept { return delivery_; }
    delivery& raw() noexcept { return delivery_; }
    boost::asio::any_io_executor get_executor() const { return executor_; }

    /// Publishes a message this handling produced and waits for the broker's confirm, so that
    /// when the handler returns every output is safely in its queues before the input is acked
    /// (at-least-once). The input's tracing headers (worker_options::propagate_headers:
    /// traceparent, tracestate, baggage by default) are copied into `properties.headers` unless
    /// already set. Throws publish_nacked, channel_error, connection_error.
    boost::asio::awaitable<void> publish(std::string exchange, std::string routing_key,
                                         std::string body, basic_properties properties = {},
                                         publish_options options = {});

    /// The same for a typed value: encoded by `Codec`, content_type set from it.
    template <class Codec, class T>
    requires codec_for<Codec, T> boost::asio::awaitable<void> publish_as(
        // NOLINTNEXTLINE(performance-unnecessary-value-param): both are moved into publish()
        std::string exchange, std::string routing_key, const T& value,
        basic_properties properties = {}, publish_options options = {}) {
        properties.content_type = std::string(Codec::content_type);
        return publish(std::move(exchange), std::move(routing_key),
                       Codec::template encode<T>(value), std::move(properties), options);
    }

    /// Copies the tracing headers of this message into `props` (what publish() does).
    void propagate_into(basic_properties& props) const;

  private:
    delivery delivery_;
    const std::string* queue_;
    unsigned attempt_;
    const std::vector<std::string>* propagate_;
    detail::output_port* out_;
    boost::asio::any_io_executor executor_;
};

}  // namespace warren
