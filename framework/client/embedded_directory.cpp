#include <warren/client/detail/embedded_directory.hpp>

#include <map>
#include <mutex>
#include <stdexcept>

namespace warren::detail {

namespace asio = boost::asio;

namespace {

/// One per execution context (Asio's service registry gives each context its own).
class embedded_directory final : public asio::execution_context::service {
  public:
    using key_type = embedded_directory;
    static inline asio::execution_context::id id;

    explicit embedded_directory(asio::execution_context& ctx)
        : asio::execution_context::service(ctx) {}

    void add(const std::string& name, embedded_connector c) {
        std::lock_guard lock(mutex_);
        if (!entries_.emplace(name, std::move(c)).second) {
            throw std::logic_error(
                "warren::embedded_broker: this io_context already has an embedded broker named '" +
                name + "'");
        }
    }
    void remove(const std::string& name) noexcept {
        std::lock_guard lock(mutex_);
        entries_.erase(name);
    }
    embedded_connector find(const std::string& name) const {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(name);
        return it == entries_.end() ? embedded_connector{} : it->second;
    }

  private:
    void shutdown() override {
        std::lock_guard lock(mutex_);
        entries_.clear();
    }

    mutable std::mutex mutex_;
    std::map<std::string, embedded_connector> entries_;
};

}  // namespace

void register_embedded(asio::execution_context& ctx, const std::string& name,
                       embedded_connector connector) {
    asio::use_service<embedded_directory>(ctx).add(name, std::move(connector));
}

void unregister_embedded(asio::execution_context& ctx, const std::string& name) noexcept {
    if (asio::has_service<embedded_directory>(ctx))
        asio::use_service<embedded_directory>(ctx).remove(name);
}

embedded_connector find_embedded(asio::execution_context& ctx, const std::string& name) {
    if (!asio::has_service<embedded_directory>(ctx)) return {};
    return asio::use_service<embedded_directory>(ctx).find(name);
}

}  // namespace warren::detail
