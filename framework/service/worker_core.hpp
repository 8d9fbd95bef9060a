#pragma once
// Private: the worker's machinery. `concurrency` lane coroutines take turns reading the consumer
// stream (one at a time), and each runs the handler chain for what it read and settles it. Retries
// and dead letters are republished (confirmed) on a settle channel before the original is acked;
// handler outputs go through an output channel in confirm mode.

#include "detail/notifier.hpp"

#include <warren/client/channel.hpp>
#include <warren/client/connection.hpp>
#include <warren/client/consumer.hpp>
#include <warren/service/worker.hpp>

#include <boost/asio/cancellation_signal.hpp>

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

    using plain_handler = std::function<boost::asio::awaitable<void>(message_context&)>;
    /// Runs `h`, or `plain` (returns -> ack) if it is set.
    static boost::asio::awaitable<void> run(std::shared_ptr<worker_core> self, handler h,
                                            plain_handler plain);
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
        bool woken = false;  // taken off idle_ by wake_one(), not resumed yet
    };

    boost::asio::awaitable<void> open();
    boost::asio::awaitable<void> declare_topology();
    static boost::asio::awaitable<void> lane_loop(std::shared_ptr<worker_core> self, lane& l);
    boost::asio::awaitable<void> handle(delivery&& d);
    boost::asio::awaitable<void> settle(message_context& ctx, const verdict& v);
    boost::asio::awaitable<void> retry(message_context& ctx, const std::string& reason);
    boost::asio::awaitable<void> dead_letter(message_context& ctx, const std::string& reason);
    /// Publishes on the settle channel, one at a time, and waits for the confirm; throws if
    /// the broker returned the message (no such queue) or nacked it.
    boost::asio::awaitable<void> republish(std::string routing_key, std::string body,
                                           basic_properties props);
    boost::asio::awaitable<void> requeue(message_context& ctx);  // never throws
    boost::asio::awaitable<void> drain();
    void cancel_lanes();
    void want_reader();
    void wake_one();
    void end_stream();  // the stream ended or failed: every lane finishes
    const std::string& queue_of(const std::string& consumer_tag) const;
    std::string error_queue_for(const std::string& queue) const;
    static std::string retry_queue(const std::string& queue, unsigned k);

    connection& conn_;
    worker_options opts_;
    worker_counters counters_;
    handler chain_;
    // Set instead of chain_ for a handler returning awaitable<void> without middleware: called
    // directly, one coroutine frame less per message.
    plain_handler plain_;
    boost::asio::any_io_executor ex_;
    std::optional<channel> consume_ch_;
    std::optional<channel> settle_ch_;
    std::optional<channel> output_ch_;
    std::optional<consumer> stream_;
    std::map<std::string, std::string> queue_of_tag_;
    std::vector<std::unique_ptr<lane>> lanes_;
    std::vector<lane*> idle_;
    // One lane at a time reads the stream (consumer::next() allows one caller). An idle lane is
    // woken to read on only once a lane's handler suspended (want_reader()), at most one
    // wake-up pending: handlers that return without suspending run back to back on one lane,
    // and handlers that suspend still get a lane each, one wake-up apart.
    bool reading_ = false;
    bool reader_check_posted_ = false;  // see want_reader()
    std::size_t waking_ = 0;
    unsigned streak_ = 0;  // deliveries taken with try_next() since the last next()
    std::optional<notifier> lanes_changed_;
    std::optional<notifier> settle_free_;
    bool settle_busy_ = false;
    bool returned_ = false;
    bool stopping_ = false;
    bool started_ = false;
    bool stream_done_ = false;
    std::size_t live_lanes_ = 0;
    std::exception_ptr failure_;
    std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace warren::detail
