#pragma once
// spawn(): co_spawn for background work, with an exception never dropped. Warren never spawns
// with bare asio::detached: a background coroutine that throws is logged as an
// error with the name it was given, and the exception ends there.

#include <warren/common/log.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

#include <exception>
#include <string>
#include <utility>

namespace warren {

namespace detail {
/// Logs `error` (if any) as "<what> failed: <exception text>" at log_level::error.
void log_background_failure(const char* what, std::exception_ptr error) noexcept;
}  // namespace detail

/// Runs `task` on `ex` in the background. If it throws, the exception is logged (as
/// "<what> failed: ...") instead of being dropped or terminating the process. `what` must be a
/// string literal (or otherwise outlive the task). Thread-safety: as asio::co_spawn.
template <class Executor>
void spawn(const Executor& ex, boost::asio::awaitable<void> task, const char* what) {
    boost::asio::co_spawn(ex, std::move(task), [what](std::exception_ptr e) {
        detail::log_background_failure(what, std::move(e));
    });
}

}  // namespace warren
