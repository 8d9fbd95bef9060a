// fan_in: parts held unacked by correlation id until their group is complete.
#include "detail/notifier.hpp"

#include <warren/client/channel.hpp>
#include <warren/client/consumer.hpp>
#include <warren/common/log.hpp>
#include <warren/common/spawn.hpp>
#include <warren/service/pipeline.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <set>
#include <stdexcept>

namespace warren::detail {

namespace asio = boost::asio;

class fan_in_core : public std::enable_shared_from_this<fan_in_core> {
  public:
    fan_in_core(connection& conn, fan_in_options o) : conn_(conn), options_(std::move(o)) {
        if (options_.queue.empty()) throw std::invalid_argument("warren::fan_in: no queue");
        if (options_.prefetch == 0)
            throw std::invalid_argument("warren::fan_in: prefetch must be at least 1");
    }

    static asio::awaitable<void> run(std::shared_ptr<fan_in_core> self,
                                     fan_in::complete_fn complete) {
        if (self->started_) throw std::logic_error("warren::fan_in::run: called twice");
        self->started_ = true;
        if (self->stopping_) co_return;
        struct finish {
            fan_in_core& c;
            ~finish() {
                c.done_ = true;
                boost::system::error_code ignored;  // the throwing cancel() in a destructor
                if (c.reap_timer_) c.reap_timer_->cancel(ignored);
            }
        } finally{*self};
        self->ch_.emplace(co_await self->conn_.open_channel());
        co_await self->ch_->set_prefetch(self->options_.prefetch);
        co_await self->ch_->declare_queue(self->options_.queue, {.durable = true});
        self->out_.emplace(co_await self->conn_.open_channel({.confirms = true}));
        self->stream_.emplace(co_await self->ch_->consume(self->options_.queue));
        self->publish_ = [out = &*self->out_](std::string x, std::string k, std::string b,
                                              basic_properties p) {
            return out->publish(std::move(x), std::move(k), std::move(b), std::move(p));
        };
        spawn(self->conn_.get_executor(), reap(self), "fan_in group timeouts");
        if (self->stopping_) self->cancel_stream();
        while (auto d = co_await self->stream_->next()) {
            if (self->stopping_) {
                co_await d->nack(requeue::yes);
                continue;
            }
            co_await self->take(std::move(*d), complete);
        }
        for (auto& [id, g] : self->groups_) {
            for (auto& p : g.parts) {
                if (!p.settled()) co_await p.nack(requeue::yes);
            }
        }
        self->groups_.clear();
        if (self->ch_->is_open()) co_await self->ch_->close();
        if (self->out_->is_open()) co_await self->out_->close();
    }

    void stop() {
        if (stopping_) return;
        stopping_ = true;
        cancel_stream();
    }

    std::size_t open_groups() const noexcept { return groups_.size(); }
    std::uint64_t completed() const noexcept { return completed_; }

  private:
    struct group {
        std::chrono::steady_clock::time_point started;
        std::size_t expected = 0;
        std::vector<delivery> parts;
        std::set<std::string> message_ids;
    };

    void cancel_stream() {
        if (!stream_ || !ch_ || !ch_->is_open()) return;
        spawn(
            conn_.get_executor(),
            [](std::shared_ptr<fan_in_core> self) -> asio::awaitable<void> {
                co_await self->stream_->cancel();
            }(shared_from_this()),
            "fan_in stop");
    }

    std::size_t expected_parts(const delivery& d) const {
        if (options_.parts != 0) return options_.parts;
        const auto& h = d.properties().headers;
        const auto* v = h ? h->find("x-fan-in-parts") : nullptr;
        const auto n = v ? v->as_integer() : std::nullopt;
        return n && *n > 0 ? static_cast<std::size_t>(*n) : 0;
    }

    asio::awaitable<void> take(delivery d, const fan_in::complete_fn& complete) {
        const auto& cid = d.properties().correlation_id;
        const auto expected = expected_parts(d);
        if (!cid || expected == 0) {
            log(log_level::warning, "fan_in '" + options_.queue + "': a part without " +
                                        (cid ? "x-fan-in-parts" : "correlation_id") + ": rejected");
            co_await d.reject(requeue::no);
            co_return;
        }
        auto [it, fresh] = groups_.try_emplace(*cid);
        auto& g = it->second;
        if (fresh) {
            g.started = std::chrono::steady_clock::now();
            g.expected = expected;
        }
        if (const auto& mid = d.properties().message_id;
            mid && !g.message_ids.insert(*mid).second) {
            co_await d.ack();  // a duplicate (redelivered) part
            co_return;
        }
        g.parts.push_back(std::move(d));
        if (g.parts.size() < g.expected) co_return;
        fan_in_group done{it->first, std::move(g.parts)};
        groups_.erase(it);
        bool ok = true;
        try {
            co_await complete(done, publish_);
        } catch (const std::exception& e) {
            ok = false;
            log(log_level::error, "fan_in '" + options_.queue + "': completing group '" +
                                      done.correlation_id + "' failed: " + e.what() +
                                      "; its parts are rejected");
        }
        for (auto& p : done.parts) {
            if (ok) {
                co_await p.ack();
            } else {
                co_await p.reject(requeue::no);  // a poison group must not come back forever
            }
        }
        if (ok) ++completed_;
    }

    static asio::awaitable<void> reap(std::shared_ptr<fan_in_core> self) {
        auto& t = self->reap_timer_.emplace(self->conn_.get_executor());
        const auto period =
            std::max(std::chrono::milliseconds(10), self->options_.group_timeout / 4);
        while (!self->done_) {
            t.expires_after(period);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            const auto now = std::chrono::steady_clock::now();
            for (auto it = self->groups_.begin(); it != self->groups_.end();) {
                if (now - it->second.started < self->options_.group_timeout) {
                    ++it;
                    continue;
                }
                log(log_level::warning,
                    "fan_in '" + self->options_.queue + "': group '" + it->first + "' got " +
                        std::to_string(it->second.parts.size()) + " of " +
                        std::to_string(it->second.expected) + " parts in time: rejected");
                auto parts = std::move(it->second.parts);
                it = self->groups_.erase(it);
                for (auto& p : parts) co_await p.reject(requeue::no);
            }
        }
    }

    connection& conn_;
    fan_in_options options_;
    std::optional<channel> ch_;
    std::optional<channel> out_;
    std::optional<consumer> stream_;
    std::optional<asio::steady_timer> reap_timer_;
    fan_in::publish_fn publish_;
    std::map<std::string, group> groups_;
    std::uint64_t completed_ = 0;
    bool started_ = false;
    bool stopping_ = false;
    bool done_ = false;
};

}  // namespace warren::detail

namespace warren {

fan_in::fan_in(connection& conn, fan_in_options options)
    : core_(std::make_shared<detail::fan_in_core>(conn, std::move(options))) {}
fan_in::~fan_in() = default;
boost::asio::awaitable<void> fan_in::run(complete_fn complete) {
    return detail::fan_in_core::run(core_, std::move(complete));
}
void fan_in::stop() { core_->stop(); }
std::size_t fan_in::open_groups() const noexcept { return core_->open_groups(); }
std::uint64_t fan_in::completed_groups() const noexcept { return core_->completed(); }

}  // namespace warren
