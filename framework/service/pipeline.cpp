// pipeline: one worker per stage; a stage's outputs are published (confirmed) before its input
// is acked.
#include "detail/notifier.hpp"

#include <warren/client/channel.hpp>
#include <warren/common/spawn.hpp>
#include <warren/service/pipeline.hpp>

#include <boost/asio/co_spawn.hpp>

#include <set>
#include <stdexcept>

namespace warren::detail {

namespace asio = boost::asio;

class pipeline_core : public std::enable_shared_from_this<pipeline_core> {
  public:
    pipeline_core(connection& conn, pipeline_options o) : conn_(conn), options_(std::move(o)) {}

    void add(std::string input, std::vector<std::string> outputs, pipeline::stage_fn f) {
        if (started_) throw std::logic_error("warren::pipeline: add stages before run()");
        if (input.empty())
            throw std::invalid_argument("warren::pipeline: a stage needs an input queue");
        stages_.push_back(stage{std::move(input), std::move(outputs), std::move(f), nullptr});
    }

    static asio::awaitable<void> run(std::shared_ptr<pipeline_core> self) {
        if (self->started_) throw std::logic_error("warren::pipeline::run: called twice");
        self->started_ = true;
        if (self->stages_.empty()) throw std::logic_error("warren::pipeline::run: no stage");
        if (self->options_.declare_topology) co_await self->declare();
        for (auto& s : self->stages_)
            s.w = std::make_unique<worker>(self->conn_, self->worker_settings(s));
        if (self->stopping_) co_return;
        auto ex = self->conn_.get_executor();
        notifier ended(ex);
        std::size_t running = self->stages_.size();
        std::exception_ptr first_error;
        for (auto& s : self->stages_) {
            asio::co_spawn(ex, run_stage(self, s), [&, self](const std::exception_ptr& e) {
                if (e && !first_error) {
                    first_error = e;
                    self->stop();  // one stage failed: the others drain and stop too
                }
                --running;
                ended.notify();
            });
        }
        while (running != 0) co_await ended.wait();
        if (first_error) std::rethrow_exception(first_error);
    }

    void stop() {
        stopping_ = true;
        for (auto& s : stages_) {
            if (s.w) s.w->stop();
        }
    }

    std::vector<worker_stats> stats() const {
        std::vector<worker_stats> out;
        for (const auto& s : stages_) out.push_back(s.w ? s.w->stats() : worker_stats{});
        return out;
    }

  private:
    struct stage {
        std::string input;
        std::vector<std::string> outputs;  // queues this stage publishes to (for declare)
        pipeline::stage_fn f;
        std::unique_ptr<worker> w;
    };

    worker_options worker_settings(const stage& s) const {
        worker_options w;
        w.queues = {s.input};
        w.prefetch = options_.prefetch;
        w.concurrency = options_.concurrency;
        w.retry = options_.retry;
        w.declare_topology = options_.declare_topology;
        w.quorum = options_.quorum;
        w.drain_timeout = options_.drain_timeout;
        w.middleware = options_.middleware;
        return w;
    }

    asio::awaitable<void> declare() {
        auto ch = co_await conn_.open_channel();
        std::set<std::string> queues;
        for (const auto& s : stages_) {
            queues.insert(s.input);
            queues.insert(s.outputs.begin(), s.outputs.end());
        }
        for (const auto& q : queues) {
            co_await ch.declare_queue(
                q, {.durable = true},
                options_.quorum ? field_table().with("x-queue-type", "quorum") : field_table());
        }
        co_await ch.close();
    }

    static asio::awaitable<void> run_stage(std::shared_ptr<pipeline_core> self, stage& s) {
        const bool persistent = self->options_.persistent;
        co_await s.w->run(
            [&s, persistent](message_context& m) { return handle(s, persistent, m); });
    }

    static asio::awaitable<void> handle(stage& s, bool persistent, message_context& m) {
        auto outputs = co_await s.f(m);
        for (auto& o : outputs) {
            if (persistent && !o.properties.delivery_mode) o.properties.delivery_mode = 2;
            // Confirmed one by one: when the handler returns, every output is in its queues.
            co_await m.publish(std::move(o.exchange), std::move(o.routing_key), std::move(o.body),
                               std::move(o.properties), {.mandatory = true});
        }
    }

    connection& conn_;
    pipeline_options options_;
    std::vector<stage> stages_;
    bool started_ = false;
    bool stopping_ = false;
};

}  // namespace warren::detail

namespace warren {

namespace {

/// map() and fan_out(): the result of `f` to each queue of `outputs`.
struct map_stage {
    pipeline::map_fn f;
    std::vector<std::string> outputs;
    boost::asio::awaitable<std::vector<stage_output>> operator()(message_context& m) {
        return call(*this, m);
    }
    // `self` lives in its stage's std::function for the pipeline's lifetime.
    static boost::asio::awaitable<std::vector<stage_output>> call(map_stage& self,
                                                                  message_context& m) {
        auto body = co_await self.f(m);
        std::vector<stage_output> out;
        out.reserve(self.outputs.size());
        for (const auto& q : self.outputs) {
            stage_output o;
            o.routing_key = q;
            o.body = body;
            // A mapped message keeps its identity along the pipeline.
            o.properties.correlation_id = m.properties().correlation_id;
            o.properties.message_id = m.properties().message_id;
            out.push_back(std::move(o));
        }
        co_return out;
    }
};

}  // namespace

pipeline::pipeline(connection& conn, pipeline_options options)
    : core_(std::make_shared<detail::pipeline_core>(conn, std::move(options))) {}
pipeline::~pipeline() = default;

pipeline& pipeline::stage(std::string input, stage_fn f) {
    core_->add(std::move(input), {}, std::move(f));
    return *this;
}

pipeline& pipeline::map(std::string input, std::string output, map_fn f) {
    return fan_out(std::move(input), {std::move(output)}, std::move(f));
}

pipeline& pipeline::fan_out(std::string input, std::vector<std::string> outputs, map_fn f) {
    if (outputs.empty()) throw std::invalid_argument("warren::pipeline::fan_out: no output queue");
    auto declared = outputs;
    core_->add(std::move(input), std::move(declared),
               stage_fn(map_stage{std::move(f), std::move(outputs)}));
    return *this;
}

boost::asio::awaitable<void> pipeline::run() { return detail::pipeline_core::run(core_); }
void pipeline::stop() { core_->stop(); }
std::vector<worker_stats> pipeline::stats() const { return core_->stats(); }

}  // namespace warren
