#pragma once
// The broker: virtual hosts and users. Confined to one executor; no locks, no I/O.

#include <warren/broker/persistence.hpp>
#include <warren/broker/vhost.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

namespace warren::broker {

struct broker_options {
    /// Largest message body accepted (RabbitMQ 3.10 default: 128 MiB).
    std::uint64_t max_message_size = 128ull * 1024 * 1024;
};

struct user {
    std::string name;
    std::string password;
    /// guest may only log in from a loopback address, as in RabbitMQ.
    bool loopback_only = false;
};

class broker {
public:
    explicit broker(broker_options options = {});
    ~broker();
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    const broker_options& options() const noexcept { return options_; }

    vhost* find_vhost(std::string_view name) const;
    vhost& add_vhost(std::string name);

    void add_user(user u);
    /// The user when name/password match and the login is allowed from this peer, else nullptr.
    const user* authenticate(std::string_view name, std::string_view password,
                             bool peer_is_loopback) const;

    /// Attaches the store (nullptr: nothing is persisted). Attach after recovery, so that
    /// recovered state is not recorded again. `p` must outlive the broker's use of it.
    void set_persistence(persistence* p) noexcept { persistence_ = p; }
    persistence* store() const noexcept { return persistence_; }

    /// A fresh id for a persistent message.
    std::uint64_t next_message_id() noexcept { return next_message_id_++; }
    /// After recovery: continue numbering above every recovered id.
    void set_next_message_id(std::uint64_t id) noexcept { next_message_id_ = id; }

    /// Random bytes for server-generated names.
    std::mt19937_64& rng() noexcept { return rng_; }

private:
    broker_options options_;
    std::map<std::string, std::unique_ptr<vhost>, std::less<>> vhosts_;
    std::map<std::string, user, std::less<>> users_;
    std::mt19937_64 rng_;
    persistence* persistence_ = nullptr;
    std::uint64_t next_message_id_ = 1;
};

}  // namespace warren::broker
