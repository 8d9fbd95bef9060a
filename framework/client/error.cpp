#include <warren/client/error.hpp>
#include <warren/client/options.hpp>

#include <string>

namespace warren {

namespace protocol {
namespace {
class reply_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "warren.amqp"; }
    std::string message(int ev) const override {
        return std::string(reply_code_name(static_cast<reply_code>(ev)));
    }
};
}  // namespace

const boost::system::error_category& reply_category() noexcept {
    static const reply_category_impl instance;
    return instance;
}
}  // namespace protocol

std::string to_string(exchange_type t) {
    switch (t) {
        case exchange_type::direct: return "direct";
        case exchange_type::fanout: return "fanout";
        case exchange_type::topic: return "topic";
        case exchange_type::headers: return "headers";
    }
    return "direct";
}

}  // namespace warren
