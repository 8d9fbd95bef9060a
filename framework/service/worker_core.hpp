#pragma once
// Private: the worker's machinery. One dispatcher coroutine takes deliveries from the consumer
// stream and hands each to an idle lane; `concurrency` lane coroutines run the handler chain
// and settle. Retries and dead letters are republished (confirmed) on a settle channel before
// the original is acked; handler outputs go through an output channel in confirm mode.

#include "detail/notifier.hpp"

#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/consumer.hpp>
#include <warren/service/worker.hpp>

#include <boost/asio/cancellation_signal.hpp>

#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace warren::detail {

class worker_core final : public std::enable_shared_from_this<worker_core>, public output_port {
  public:
    worker_core(connection& conn, worker_options o);

    static boost::asio::awaitable<void> run(std::shared_ptr<worker_core> self, handler h);
    void stop();
    bool stopping() const noexcept { return stopping_; }
    const worker_options& options() const noexcept { return opts_; }
    worker_stats stats() const noexcept { return counters_.snapshot(); }

    boost::asio::awaitable<void> publish(std::string exchange, std::string routing_key,
                                         std::string body, basic_properties properties,
                                         publish_options options) override;

  private:
    struct lane {
        explicit lane(const boost::asio::any_io_executor& ex) : wake(ex) {}
        notifier wake;
        boost::asio::cancellation_signal cancel;
        bool done = false;
    };

    boost::asio::awaitable<void> open();
    boost::asio::awaitable<void> declare_topology();
    static boost::asio::awaitable<void> dispatch(std::shared_ptr<worker_core> self);
    static boost::asio::awaitable<void> lane_loop(std::shared_ptr<worker_core> self, lane& l);
    boost::asio::awaitable<void> handle(delivery d);
    boost::asio::awaitable<void> settle(message_context& ctx, const verdict& v);
    boost::asio::awaitable<void> retry(message_context& ctx, const std::string& reason);
    boost::asio::awaitable<void> dead_letter(message_context& ctx, const std::string& reason);
    /// Publishes on the settle channel, one at a time, and waits for the confirm; throws if
    /// the broker returned the message (no such queue) or nacked it.
    boost::asio::awaitable<void> republish(std::string routing_key, std::string body,
                                           basic_properties props);
    boost::asio::awaitable<void> requeue(message_context& ctx);  // never throws
    boost::asio::awaitable<void> requeue_ready();                // never throws
    boost::asio::awaitable<void> drain();
    void cancel_lanes();
    const std::string& queue_of(const std::string& consumer_tag) const;
    std::string error_queue_for(const std::string& queue) const;
    static std::string retry_queue(const std::string& queue, unsigned k);

    connection& conn_;
    worker_options opts_;
    worker_counters counters_;
    handler chain_;
    boost::asio::any_io_executor ex_;
    std::optional<channel> consume_ch_;
    std::optional<channel> settle_ch_;
    std::optional<channel> output_ch_;
    std::optional<consumer> stream_;
    std::map<std::string, std::string> queue_of_tag_;
    std::vector<std::unique_ptr<lane>> lanes_;
    std::vector<lane*> idle_;
    // Deliveries taken from the stream and not yet started: lanes take them in turn without
    // suspending while there are any (one wake-up per batch, not per message).
    std::deque<delivery> ready_;
    bool dispatcher_waiting_ = false;
    std::optional<notifier> lane_freed_;
    std::optional<notifier> lanes_changed_;
    std::optional<notifier> settle_free_;
    boost::asio::cancellation_signal dispatch_cancel_;
    bool settle_busy_ = false;
    bool returned_ = false;
    bool stopping_ = false;
    bool started_ = false;
    bool dispatch_done_ = false;
    std::size_t live_lanes_ = 0;
    std::exception_ptr failure_;
    std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace warren::detail
