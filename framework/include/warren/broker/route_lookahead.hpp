#pragma once
// The routing look-ahead (docs/architecture.md): before a server hands the broker the frames of
// one input batch, it names the batch's basic.publish frames here, in order. While it handles
// publish i, the look-ahead loads into the CPU cache, in stages, what publishes i + 1 .. i + 4
// will touch (the routing key's index slot, the binding list, the bound queue), so that routing
// them does not wait on a chain of cache misses. Only direct exchanges are looked ahead.
//
// Each stage reads only what the previous one loaded and only the broker's current state, so a
// frame handled in between (an unbind, a bind, an exchange deleted) makes a hint useless, never
// unsafe. Thread-safety: on the broker's executor only, like the vhost it reads.

#include <warren/broker/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace warren::broker {

class route_lookahead {
  public:
    /// Forgets the previous batch; the publishes add()ed next go to `vh`, which must outlive
    /// the batch.
    void start(const vhost& vh) noexcept;
    /// Forgets the previous batch (reached() then does nothing until the next start()).
    void clear() noexcept {
        hints_.clear();
        next_ = 0;
    }
    /// The batch's next publish: its frame is identified by `at` (any address unique to it in
    /// the input), it goes to `exchange` with `routing_key`. The views must stay valid until the
    /// next start(). Throws std::bad_alloc only.
    void add(const void* at, std::string_view exchange, std::string_view routing_key);
    /// The frame identified by `at` is about to be handled: if it is the batch's next publish,
    /// the following ones are loaded ahead. Frames that are not publishes cost one comparison.
    void reached(const void* at) noexcept {
        if (next_ < hints_.size() && hints_[next_].at == at) look_ahead(next_++);
    }

  private:
    struct hint {
        const void* at = nullptr;
        std::string_view exchange_name;
        std::string_view key;
        bool resolved = false;
        std::uint64_t hash = 0;
        const exchange* x = nullptr;
        std::uint64_t generation = 0;
    };
    void look_ahead(std::size_t i) noexcept;
    void resolve(std::size_t j, std::uint64_t generation) noexcept;

    const vhost* vh_ = nullptr;
    std::vector<hint> hints_;
    std::size_t next_ = 0;
};

}  // namespace warren::broker
