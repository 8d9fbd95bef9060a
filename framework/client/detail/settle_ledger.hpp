#pragma once
// Private: which delivery tags of a channel are still unsettled, so that a delivery is settled
// at most once (a second ack is a std::logic_error on the client, never a frame that makes the
// broker close the channel with 406 "unknown delivery tag").

#include <cstdint>
#include <deque>

namespace warren::detail {

/// Delivery tags are numbered 1, 2, 3, ... per channel by the broker, for consumer deliveries
/// and basic.get alike. The ledger holds one flag per tag from the oldest unsettled one to the
/// newest received, and drops settled tags from the front, so it costs a byte per delivery
/// still in flight (plus the settled ones behind the oldest unsettled one).
class settle_ledger {
  public:
    enum class outcome { settled, unknown, already_settled };

    /// A delivery with `tag` arrived; `settled` for one that needs no settling (no_ack).
    void received(std::uint64_t tag, bool settled) {
        if (tag < next_) return;  // not from this broker's numbering; settle() reports it
        if (flags_.empty()) base_ = tag;
        while (base_ + flags_.size() < tag) flags_.push_back(1);  // tags we never saw: no_ack gaps
        flags_.push_back(settled ? 1 : 0);
        next_ = tag + 1;
        trim();
    }

    /// Marks `tag` settled, and with `multiple` every earlier tag too (`tag` 0 with `multiple`:
    /// everything received). `settled` if `tag` was unsettled (with multiple: if anything was).
    outcome settle(std::uint64_t tag, bool multiple) {
        if (multiple && tag == 0) {
            if (flags_.empty()) return outcome::already_settled;
            tag = next_ - 1;
        }
        if (tag == 0 || tag >= next_) return outcome::unknown;
        if (tag < base_ || flags_[tag - base_] != 0) return outcome::already_settled;
        flags_[tag - base_] = 1;
        if (multiple) {
            for (std::uint64_t t = base_; t < tag; ++t) flags_[t - base_] = 1;
        }
        trim();
        return outcome::settled;
    }

    /// True for a settled tag, and for one never received.
    bool is_settled(std::uint64_t tag) const noexcept {
        return tag < base_ || tag >= next_ || flags_[tag - base_] != 0;
    }

    /// The channel closed: the broker requeued everything unsettled.
    void clear() noexcept {
        flags_.clear();
        base_ = next_;
    }

    /// Tags held (unsettled ones and the settled ones between them), for tests.
    std::size_t size() const noexcept { return flags_.size(); }

  private:
    void trim() {
        while (!flags_.empty() && flags_.front() != 0) {
            flags_.pop_front();
            ++base_;
        }
    }

    std::deque<unsigned char> flags_;
    std::uint64_t base_ = 1;  // the tag of flags_.front()
    std::uint64_t next_ = 1;  // one past the newest tag received
};

}  // namespace warren::detail
