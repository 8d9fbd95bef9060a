#pragma once
// Shared by the worker-framework examples (task_worker, rpc_server, rpc_client, pipeline).
// Each takes `--uri URI` (repeatable: a host list; today the first one is used) and its own
// options. Without --uri it starts an embedded broker, feeds itself sample inputs, checks the
// outcome and exits 0 (1 on a failed check); with it, it serves until SIGINT/SIGTERM, drains and
// exits 0.

#include <warren/common/log.hpp>
#include <warren/embedded.hpp>
#include <warren/service/shutdown.hpp>
#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <chrono>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace examples {

namespace asio = boost::asio;

/// A failed self-check: the program exits 1.
class check_failed : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

inline void check(bool ok, const std::string& what) {
    if (!ok) throw check_failed("self-check failed: " + what);
}

/// Sleeps on the current coroutine's executor.
inline asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

/// `--name value` options, `--flag` flags and the repeatable `--uri`; anything else is an
/// error (exit 2 with the usage line).
class options {
  public:
    options(int argc, char** argv, std::map<std::string, std::string> defaults,
            std::set<std::string> flags, std::string usage)
        : values_(std::move(defaults)), usage_(std::move(usage)) {
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if (!arg.starts_with("--")) bad("unexpected argument '" + arg + "'");
            const auto name = arg.substr(2);
            if (name == "help") throw std::invalid_argument(usage_);
            if (flags.count(name) != 0) {
                flags_.insert(name);
            } else if (name == "uri" || values_.count(name) != 0) {
                if (i + 1 >= argc) bad("--" + name + " needs a value");
                if (name == "uri") {
                    uris_.push_back(argv[++i]);
                    warren::parse_uri(
                        uris_.back());  // a bad URI is a usage error, before anything starts
                } else {
                    values_[name] = argv[++i];
                }
            } else {
                bad("unknown option --" + name);
            }
        }
    }

    const std::vector<std::string>& uris() const noexcept { return uris_; }
    /// True when the program serves a broker given with --uri (else: self-check on an embedded
    /// one).
    bool serving() const noexcept { return !uris_.empty(); }
    const std::string& text(const std::string& name) const { return values_.at(name); }
    bool flag(const std::string& name) const { return flags_.count(name) != 0; }
    /// A non-negative integer option (else a usage error).
    std::uint64_t number(const std::string& name) const {
        const auto& s = values_.at(name);
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) {
            throw std::invalid_argument("--" + name + " must be a non-negative integer, not '" + s +
                                        "'\n" + usage_);
        }
        return v;
    }

  private:
    [[noreturn]] void bad(const std::string& why) const {
        throw std::invalid_argument(why + "\n" + usage_);
    }
    std::vector<std::string> uris_;
    std::map<std::string, std::string> values_;
    std::set<std::string> flags_;
    std::string usage_;
};

/// The broker a program talks to: the first --uri, or an embedded broker of its own.
class broker_choice {
  public:
    broker_choice(asio::io_context& io, const options& o) : io_(io) {
        if (o.serving()) {
            uri_ = o.uris().front();
        } else {
            warren::set_log_level(
                warren::log_level::warning);  // the broker's connection lines are noise here
            embedded_ = std::make_unique<warren::embedded_broker>(io);
            uri_ = embedded_->uri();
        }
    }
    asio::awaitable<warren::connection> connect() { return warren::connect(io_, uri_); }
    const std::string& uri() const noexcept { return uri_; }

  private:
    asio::io_context& io_;
    std::string uri_;
    std::unique_ptr<warren::embedded_broker> embedded_;
};

/// Runs `main` on `io` to its end, then stops `io`; the exit status: 0 when it returned, 1 when
/// it threw (a failed self-check, a broker error), with the reason on stderr.
inline int run(asio::io_context& io, asio::awaitable<void> main) {
    int status = 1;
    asio::co_spawn(io, std::move(main), [&status, &io](std::exception_ptr e) {
        io.stop();  // the signal handlers and the embedded broker's timers would keep run() going
        if (!e) {
            status = 0;
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "error: " << x.what() << '\n';
        }
    });
    io.run();
    return status;
}

/// Parses the options and runs `body(options)`; bad options exit 2 with the usage.
template <class Body>
int main_with(int argc, char** argv, std::map<std::string, std::string> defaults,
              std::set<std::string> flags, std::string usage, Body body) {
    std::optional<options> o;
    try {
        o.emplace(argc, argv, std::move(defaults), std::move(flags), std::move(usage));
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
    try {
        return body(*o);
    } catch (const std::invalid_argument& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
}

}  // namespace examples
