// warren-broker: the AMQP 0-9-1 broker daemon (foreground).
#include <warren/broker/broker.hpp>
#include <warren/server/log.hpp>
#include <warren/server/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* usage = R"(usage: warren-broker [options]
  --port N             AMQP port to listen on (default 5672; 0 = any free port)
  --bind ADDR          address to listen on (default 127.0.0.1)
  --data-dir DIR       directory for durable state (created if missing)
  --log-level LEVEL    debug | info | warning | error | none (default info)
  --heartbeat SECONDS  heartbeat proposed to clients (default 60; 0 = off)
  --frame-max BYTES    largest frame accepted (default 131072, at least 4096)
  --max-message-size BYTES  largest message body accepted (default 134217728)
  --help               show this help
)";

struct config {
    warren::server::server_options server;
    std::optional<std::filesystem::path> data_dir;
    warren::broker::broker_options broker;
};

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

int fail(const std::string& msg) {
    std::cerr << "warren-broker: " << msg << "\n" << usage;
    return 2;
}

// Returns 0 on success, else the process exit code.
int parse_args(int argc, char** argv, config& c) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return -1;
        }
        if (i + 1 >= argc) return fail("option " + std::string(a) + " needs a value");
        std::string_view v = argv[++i];
        if (a == "--port") {
            if (!parse_number(v, c.server.port)) return fail("--port: not a port number: " + std::string(v));
        } else if (a == "--bind") {
            c.server.bind = std::string(v);
        } else if (a == "--data-dir") {
            c.data_dir = std::filesystem::path(v);
        } else if (a == "--log-level") {
            warren::server::log_level l{};
            if (!warren::server::parse_log_level(v, l)) return fail("--log-level: unknown level " + std::string(v));
            warren::server::set_log_level(l);
        } else if (a == "--heartbeat") {
            if (!parse_number(v, c.server.session.heartbeat)) return fail("--heartbeat: not a number of seconds");
        } else if (a == "--frame-max") {
            if (!parse_number(v, c.server.session.frame_max) || c.server.session.frame_max < 4096) {
                return fail("--frame-max: must be a number >= 4096");
            }
        } else if (a == "--max-message-size") {
            if (!parse_number(v, c.broker.max_message_size) || c.broker.max_message_size == 0) {
                return fail("--max-message-size: must be a positive number of bytes");
            }
        } else {
            return fail("unknown option " + std::string(a));
        }
    }
    return 0;
}

// Gives clients a moment to answer connection.close, then stops the loop regardless.
// `io` and `srv` outlive the coroutine (they live in main until io.run() returns).
asio::awaitable<void> drain(asio::io_context& io, warren::server::server& srv) {
    asio::steady_timer t(io);
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (srv.connection_count() != 0 && std::chrono::steady_clock::now() < deadline) {
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    io.stop();
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    if (int rc = parse_args(argc, argv, cfg); rc != 0) return rc < 0 ? 0 : rc;
    std::signal(SIGPIPE, SIG_IGN);
    if (cfg.data_dir) {
        std::error_code ec;
        std::filesystem::create_directories(*cfg.data_dir, ec);
        if (ec) {
            std::cerr << "warren-broker: cannot create data dir " << *cfg.data_dir << ": " << ec.message() << "\n";
            return 1;
        }
    }
    // The broker outlives the io_context: destroying the context destroys the connections'
    // coroutines, whose sessions release their broker state.
    warren::broker::broker brk(cfg.broker);
    asio::io_context io(1);
    warren::server::server srv(io, brk, cfg.server);
    try {
        srv.start();
    } catch (const boost::system::system_error& e) {
        std::cerr << "warren-broker: cannot listen on " << cfg.server.bind << ":" << cfg.server.port
                  << ": " << e.code().message() << "\n";
        return 1;
    }
    // Machine-readable line for scripts that started us with --port 0.
    std::cout << "warren-broker listening on " << cfg.server.bind << ":" << srv.port() << std::endl;

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        warren::server::log(warren::server::log_level::info,
                            std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                ", shutting down");
        srv.stop();
        asio::co_spawn(io, drain(io, srv), asio::detached);
    });
    io.run();
    warren::server::log(warren::server::log_level::info, "stopped");
    return 0;
}
