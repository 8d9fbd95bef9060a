// RabbitMQ tutorial 1, "Hello World!": one producer sends a message to the queue "hello", one
// consumer receives it. Runs on the embedded broker; `--uri amqp://...` uses a server.
#include "../common/example.hpp"

namespace asio = boost::asio;

asio::awaitable<void> send(warren::connection& conn) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("hello");
    co_await ch.publish("", "hello", "Hello World!");
    std::cout << " [x] Sent 'Hello World!'\n";
}

asio::awaitable<void> receive(warren::connection& conn) {
    auto ch = co_await conn.open_channel();
    co_await ch.declare_queue("hello");
    auto messages = co_await ch.consume("hello", {.no_ack = true});
    std::cout << " [*] Waiting for messages\n";
    auto d = co_await messages.next();
    examples::expect(d.has_value(), "a message arrived");
    std::cout << " [x] Received '" << d->body() << "'\n";
    examples::expect(d->body() == "Hello World!", "the consumer received what was sent");
}

asio::awaitable<void> run(examples::app& app) {
    auto consumer_conn = co_await app.connect();
    auto producer_conn = co_await app.connect();
    co_await send(producer_conn);
    co_await receive(consumer_conn);
}

int main(int argc, char** argv) { return examples::main<run>(argc, argv); }
