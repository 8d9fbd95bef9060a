#pragma once
// graceful_shutdown: SIGINT/SIGTERM (or a request from code) stops a service's workers, RPC
// servers and pipelines, which then drain and return, so that main() can exit 0.
//
//     warren::graceful_shutdown shutdown{io};
//     shutdown.add(worker);                 // anything with stop()
//     co_await worker.run(handler);         // returns once drained

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <vector>

namespace warren {

/// Threading: construct and use on `io`'s thread (the callbacks run there).
class graceful_shutdown {
  public:
    /// Listens for SIGINT and SIGTERM on `io`.
    explicit graceful_shutdown(boost::asio::io_context& io);
    ~graceful_shutdown();
    graceful_shutdown(const graceful_shutdown&) = delete;
    graceful_shutdown& operator=(const graceful_shutdown&) = delete;

    /// Runs `f` once, at the first signal or request() (at once if that already happened).
    void on_shutdown(std::function<void()> f);
    /// Calls `s.stop()` at shutdown; `s` must outlive this object or the shutdown.
    template <class Stoppable>
    void add(Stoppable& s) {
        on_shutdown([&s] { s.stop(); });
    }
    /// Shuts down as a signal would.
    void request();
    bool requested() const noexcept { return requested_; }
    /// The signal that started the shutdown (SIGINT, SIGTERM), 0 if request() did or none yet.
    int signal_number() const noexcept { return signal_; }

  private:
    void fire();
    boost::asio::signal_set signals_;
    std::vector<std::function<void()>> callbacks_;
    bool requested_ = false;
    int signal_ = 0;
};

}  // namespace warren
