#pragma once
// Shared by the examples: runs on the embedded broker by default, or on a server given with
// `--uri amqp://...`.

#include <warren/warren.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace examples {

namespace asio = boost::asio;

class app {
public:
    app(int argc, char** argv) {
        for (int i = 1; i + 1 < argc; ++i) {
            if (std::string_view(argv[i]) == "--uri") uri_ = warren::parse_uri(argv[i + 1]);
        }
        if (!uri_) broker_ = std::make_unique<warren::embedded_broker>(io);
    }

    /// A new connection to the embedded broker or the --uri server.
    asio::awaitable<warren::connection> connect() {
        if (broker_) return warren::connect(*broker_);
        return warren::connect(io, *uri_);
    }

    /// Runs `main` to completion; returns the process exit status.
    int run(asio::awaitable<void> main) {
        std::exception_ptr error;
        asio::co_spawn(io, std::move(main), [&error](std::exception_ptr e) { error = e; });
        io.run();
        if (!error) return 0;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            std::cerr << "error: " << e.what() << '\n';
        }
        return 1;
    }

    asio::io_context io;

private:
    std::unique_ptr<warren::embedded_broker> broker_;
    std::optional<warren::uri> uri_;
};

}  // namespace examples
