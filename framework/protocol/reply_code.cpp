#include <warren/protocol/reply_code.hpp>

#include <string>

namespace warren::protocol {

std::string_view reply_code_name(reply_code c) noexcept {
    // The spec's constant names, upper-cased as RabbitMQ prints them ("NOT_FOUND - no queue ...").
    switch (c) {
        case reply_code::success:
            return "REPLY_SUCCESS";
        case reply_code::content_too_large:
            return "CONTENT_TOO_LARGE";
        case reply_code::no_route:
            return "NO_ROUTE";
        case reply_code::no_consumers:
            return "NO_CONSUMERS";
        case reply_code::connection_forced:
            return "CONNECTION_FORCED";
        case reply_code::invalid_path:
            return "INVALID_PATH";
        case reply_code::access_refused:
            return "ACCESS_REFUSED";
        case reply_code::not_found:
            return "NOT_FOUND";
        case reply_code::resource_locked:
            return "RESOURCE_LOCKED";
        case reply_code::precondition_failed:
            return "PRECONDITION_FAILED";
        case reply_code::frame_error:
            return "FRAME_ERROR";
        case reply_code::syntax_error:
            return "SYNTAX_ERROR";
        case reply_code::command_invalid:
            return "COMMAND_INVALID";
        case reply_code::channel_error:
            return "CHANNEL_ERROR";
        case reply_code::unexpected_frame:
            return "UNEXPECTED_FRAME";
        case reply_code::resource_error:
            return "RESOURCE_ERROR";
        case reply_code::not_allowed:
            return "NOT_ALLOWED";
        case reply_code::not_implemented:
            return "NOT_IMPLEMENTED";
        case reply_code::internal_error:
            return "INTERNAL_ERROR";
    }
    return "UNKNOWN_REPLY_CODE";
}

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

}  // namespace warren::protocol
