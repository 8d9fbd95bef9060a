#include <warren/client/error.hpp>
#include <warren/client/options.hpp>

#include <string>

namespace warren {

namespace protocol {
namespace {
// boost::system::error_category's destructor is protected and non-virtual by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor flags it anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class reply_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "warren.amqp"; }
    std::string message(int ev) const override {
        return std::string(reply_code_name(static_cast<reply_code>(ev)));
    }
};
#pragma GCC diagnostic pop
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
