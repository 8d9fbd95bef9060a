// RabbitMQ tutorial 6, "RPC": the server consumes "rpc_queue" (prefetch 1, to spread load over
// several servers) and answers fib(n) to the request's reply_to queue with the request's
// correlation_id. The client owns one exclusive, server-named callback queue; it sends each
// request with reply_to = that queue and a fresh correlation_id, and waits for the reply
// carrying that id (ignoring any other).
// Self-check: every answer equals fib(n) computed locally.
// Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

#include <cstdint>
#include <random>

namespace asio = boost::asio;

std::uint64_t fib(int n) { return n < 2 ? static_cast<std::uint64_t>(n) : fib(n - 1) + fib(n - 2); }

asio::awaitable<void> rpc_server(warren::connection& conn) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("rpc_queue");
    co_await ch.set_prefetch(1);
    auto requests = co_await ch.consume("rpc_queue");
    std::cout << " [x] Awaiting RPC requests\n";
    while (auto request = co_await requests.next()) {
        const int n = std::stoi(request->body());
        std::cout << " [.] fib(" << n << ")\n";
        warren::basic_properties reply;
        reply.correlation_id = request->properties().correlation_id;
        co_await ch.publish("", request->properties().reply_to.value_or(""), std::to_string(fib(n)),
                            std::move(reply));
        co_await request->ack();
    }
}

class fibonacci_rpc {
  public:
    static asio::awaitable<fibonacci_rpc> open(warren::connection& conn) {
        auto ch = co_await conn.open_channel();
        // Declared here too, so that a request sent before the server is up waits for it.
        co_await ch.declare_queue("rpc_queue");
        auto callback = co_await ch.declare_queue("", {.exclusive = true});
        auto replies = co_await ch.consume(callback.name, {.no_ack = true});
        co_return fibonacci_rpc(std::move(ch), std::move(callback.name), std::move(replies));
    }

    asio::awaitable<std::uint64_t> call(int n) {
        const std::string correlation_id = new_id();
        warren::basic_properties request;
        request.reply_to = callback_queue_;
        request.correlation_id = correlation_id;
        co_await ch_.publish("", "rpc_queue", std::to_string(n), std::move(request));
        for (;;) {
            auto reply = co_await replies_.next();
            examples::expect(reply.has_value(), "the callback queue's consumer was not cancelled");
            if (reply->properties().correlation_id == correlation_id)
                co_return std::stoull(reply->body());
            std::cout << " [?] ignoring a reply to another request\n";
        }
    }

  private:
    fibonacci_rpc(warren::channel ch, std::string callback_queue, warren::consumer replies)
        : ch_(std::move(ch)),
          callback_queue_(std::move(callback_queue)),
          replies_(std::move(replies)) {}

    std::string new_id() {
        static constexpr char hex[] = "0123456789abcdef";
        std::string id;
        for (int i = 0; i < 32; ++i) id += hex[random_() % 16];
        return id;
    }

    warren::channel ch_;
    std::string callback_queue_;
    warren::consumer replies_;
    std::mt19937_64 random_{std::random_device{}()};
};

asio::awaitable<void> rpc_client(warren::connection& conn) {
    auto fibonacci = co_await fibonacci_rpc::open(conn);
    std::uint64_t a = 0, b = 1;  // fib(n), fib(n + 1), computed here to check the answers
    for (int n = 0; n <= 25; ++n) {
        std::cout << " [x] Requesting fib(" << n << ")\n";
        const auto answer = co_await fibonacci.call(n);
        std::cout << " [.] Got " << answer << '\n';
        examples::expect(answer == a, "fib(" + std::to_string(n) + ") is " + std::to_string(a));
        b = a + b;
        a = b - a;
    }
}

asio::awaitable<void> run(examples::app& app) {
    auto server_conn = co_await app.connect();
    auto client_conn = co_await app.connect();
    // The server runs until the client is done; then first_of cancels it.
    const auto ended =
        co_await examples::first_of(rpc_client(client_conn), rpc_server(server_conn));
    examples::expect(ended == 0, "the server ran until the client was done");
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
