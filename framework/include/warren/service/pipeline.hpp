#pragma once
// Pipelines: stages that consume a queue, transform, and publish to the next queue(s), and a
// fan-in that gathers the parts of a result. At-least-once throughout: a stage acks its input
// only after every output it produced was confirmed by the broker, so a crash at any point
// loses nothing (an input being handled is redelivered; its outputs may then appear twice).
//
//     warren::pipeline p{conn};
//     p.map("orders.in", "orders.priced", price)       // one output per input
//      .fan_out("orders.priced", {"billing", "shipping"}, route)
//      .stage("returns", explode);                     // any outputs, computed
//     co_await p.run();                                // until stop(), then drains

#include <warren/client/connection.hpp>
#include <warren/client/delivery.hpp>
#include <warren/service/worker.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace warren {

/// One message a stage produces.
struct stage_output {
    std::string exchange;  ///< "" = the default exchange (routing_key names a queue)
    std::string routing_key;
    std::string body;
    basic_properties properties;
};

struct pipeline_options {
    /// Per stage (see worker_options).
    std::uint16_t prefetch = 10;
    std::uint16_t concurrency = 0;
    retry_policy retry = retry_policy::exponential(5, std::chrono::seconds(1));
    /// Outputs are persistent (delivery_mode 2) unless their properties say otherwise.
    bool persistent = true;
    /// Declare every stage's input and output queues (durable) and their error and retry
    /// queues at run().
    bool declare_topology = true;
    bool quorum = false;
    std::chrono::milliseconds drain_timeout{10000};
    std::vector<warren::middleware> middleware;
};

namespace detail {
class pipeline_core;
}

/// Stages on one connection, run together.
///
/// Lifetime: `conn` must outlive the pipeline. Add stages before run().
class pipeline {
  public:
    using stage_fn =
        std::function<boost::asio::awaitable<std::vector<stage_output>>(message_context&)>;
    using map_fn = std::function<boost::asio::awaitable<std::string>(message_context&)>;

    explicit pipeline(connection& conn, pipeline_options options = {});
    ~pipeline();
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    /// A stage consuming `input`: `f` returns the outputs of one input (none, one or many),
    /// each published and confirmed before the input is acked. A throw retries the input
    /// (pipeline_options::retry), so a stage should publish its outputs only by returning them.
    pipeline& stage(std::string input, stage_fn f);
    /// One output per input: the result of `f`, to the queue `output`.
    pipeline& map(std::string input, std::string output, map_fn f);
    /// The result of `f` to every queue of `outputs` (each confirmed).
    pipeline& fan_out(std::string input, std::vector<std::string> outputs, map_fn f);

    /// Runs every stage until stop() (each drains, then run() returns) or until one fails
    /// (the others are stopped, then its error is thrown). Call once.
    boost::asio::awaitable<void> run();
    void stop();
    /// Per stage, in the order added.
    std::vector<worker_stats> stats() const;

  private:
    std::shared_ptr<detail::pipeline_core> core_;
};

struct fan_in_options {
    /// The queue the parts arrive on (declared durable by run()).
    std::string queue;
    /// Parts per group; 0 = each part says, in its integer header `x-fan-in-parts`.
    std::size_t parts = 0;
    /// Unacked parts held at once: must exceed the parts of all groups open at the same time,
    /// or the groups wait for each other forever.
    std::uint16_t prefetch = 1000;
    /// A group not complete after this long is given up: its parts are rejected without
    /// requeue (dead-lettered, if the queue has a dead-letter exchange).
    std::chrono::milliseconds group_timeout{60000};
};

/// One complete group of parts (same correlation_id), handed to the completion function.
struct fan_in_group {
    std::string correlation_id;
    /// In arrival order; duplicates (same message_id, e.g. redelivered) are dropped.
    std::vector<delivery> parts;
};

namespace detail {
class fan_in_core;
}

/// Collects N results by correlation id: parts are held (unacked) until their group is
/// complete, then `complete(group)` runs (it publishes the combined result, confirmed, through
/// the function it is given), then every part is acked. A crash before the acks redelivers the
/// parts, so the combination may happen twice: at-least-once.
class fan_in {
  public:
    /// `publish(exchange, routing_key, body, properties)`: a confirmed publish.
    using publish_fn = std::function<boost::asio::awaitable<void>(std::string, std::string,
                                                                  std::string, basic_properties)>;
    using complete_fn =
        std::function<boost::asio::awaitable<void>(fan_in_group&, const publish_fn& publish)>;

    fan_in(connection& conn, fan_in_options options);
    ~fan_in();
    fan_in(const fan_in&) = delete;
    fan_in& operator=(const fan_in&) = delete;

    /// Consumes until stop() or a connection failure (throws).
    boost::asio::awaitable<void> run(complete_fn complete);
    void stop();
    /// Groups waiting for parts.
    std::size_t open_groups() const noexcept;
    std::uint64_t completed_groups() const noexcept;

  private:
    std::shared_ptr<detail::fan_in_core> core_;
};

}  // namespace warren
