#pragma once
// Drives the sans-I/O broker's clock: one steady_timer for the whole broker (never one per
// message) that calls broker::tick at the broker's next deadline, and is re-armed earlier
// whenever the broker reports a new, earlier deadline (broker::set_wakeup).

#include <warren/broker/fwd.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <memory>

namespace warren::server {

class broker_timer {
  public:
    /// `ex` must be the executor the broker runs on; `b` must outlive the timer's use (the
    /// destructor detaches from the broker). Thread-safety: use on `ex` only.
    broker_timer(boost::asio::any_io_executor ex, broker::broker& b);
    ~broker_timer();
    broker_timer(const broker_timer&) = delete;
    broker_timer& operator=(const broker_timer&) = delete;

    /// Registers with the broker and arms the timer for its first deadline (no wait is pending
    /// while the broker has none, so an otherwise idle io_context still returns from run()).
    void start();
    /// Detaches from the broker and cancels the pending wait. Idempotent.
    void stop();

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace warren::server
