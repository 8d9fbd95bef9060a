#pragma once
// Internal to the broker (a member of exchange, hence under include/): an open-addressing index
// over the elements of a node-based string map (whose element addresses are stable). A key's
// slot is found from its hash alone, so that the routing look-ahead (route_lookahead) can load
// the slot of a routing key it will route soon, then the element the slot names.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::broker::detail {

inline std::uint64_t key_hash(std::string_view key) noexcept {
    return std::hash<std::string_view>{}(key);
}

template <class Value>
class key_index {
  public:
    /// The value stored under `key` (whose hash is `h`), or null.
    Value* find(std::string_view key, std::uint64_t h) const noexcept {
        if (slots_.empty()) return nullptr;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.key == nullptr) return nullptr;
            if (s.hash == h && *s.key == key) return s.value;
        }
    }

    /// The key and value of the first slot with hash `h`, without comparing keys: a prefetch
    /// hint only ({null, null} if none).
    std::pair<const std::string*, Value*> peek(std::uint64_t h) const noexcept {
        if (slots_.empty()) return {};
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.key == nullptr) return {};
            if (s.hash == h) return {s.key, s.value};
        }
    }

    /// The address of `h`'s home slot (not read), or null while the index is empty.
    const void* home_slot(std::uint64_t h) const noexcept {
        return slots_.empty() ? nullptr : &slots_[h & mask_];
    }

    /// Adds `key` (not present; `*key` and `*value` must outlive their entry).
    void insert(const std::string* key, Value* value) {
        if ((count_ + 1) * 2 > slots_.size()) grow();
        place(slot{key_hash(*key), key, value});
        ++count_;
    }

    /// Removes `key` if present (backward-shift deletion: no tombstones).
    void erase(std::string_view key) noexcept {
        if (slots_.empty()) return;
        const auto h = key_hash(key);
        std::size_t i = h & mask_;
        for (;; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.key == nullptr) return;
            if (s.hash == h && *s.key == key) break;
        }
        --count_;
        for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
            if (slots_[j].key == nullptr) break;
            // Move slot j back into the hole at i unless its home lies cyclically in (i, j].
            const std::size_t home = slots_[j].hash & mask_;
            const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (stays) continue;
            slots_[i] = slots_[j];
            i = j;
        }
        slots_[i] = slot{};
    }

    std::size_t size() const noexcept { return count_; }

  private:
    struct slot {
        std::uint64_t hash = 0;
        const std::string* key = nullptr;  ///< null: empty
        Value* value = nullptr;
    };

    void place(const slot& s) noexcept {
        std::size_t i = s.hash & mask_;
        while (slots_[i].key != nullptr) i = (i + 1) & mask_;
        slots_[i] = s;
    }

    void grow() {
        std::vector<slot> old(slots_.empty() ? 16 : slots_.size() * 2);
        old.swap(slots_);
        mask_ = slots_.size() - 1;
        for (const auto& s : old) {
            if (s.key != nullptr) place(s);
        }
    }

    std::vector<slot> slots_;
    std::size_t mask_ = 0;
    std::size_t count_ = 0;
};

}  // namespace warren::broker::detail
