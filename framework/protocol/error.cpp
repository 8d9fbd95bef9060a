#include <warren/protocol/error.hpp>

#include <string>

namespace warren::protocol {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories are
// never deleted through a base pointer), which -Wnon-virtual-dtor flags anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class protocol_category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "warren.protocol"; }

    std::string message(int ev) const override { return describe(ev); }

    char const* message(int ev, char* /*buffer*/, std::size_t /*len*/) const noexcept override {
        return describe(ev);
    }

  private:
    static const char* describe(int ev) noexcept {
        switch (static_cast<error>(ev)) {
            case error::truncated:
                return "truncated frame payload";
            case error::frame_too_large:
                return "frame larger than the negotiated frame_max";
            case error::bad_frame_end:
                return "frame-end octet is not 0xCE";
            case error::bad_frame_type:
                return "unknown frame type";
            case error::unknown_method:
                return "unknown class/method id";
            case error::bad_field_type:
                return "unknown field-table value type";
            case error::trailing_bytes:
                return "trailing bytes after method arguments";
            case error::bad_property_flags:
                return "invalid content header property flags";
            case error::nesting_too_deep:
                return "field tables nested too deeply";
            case error::string_too_long:
                return "short string longer than 255 octets";
        }
        return "unknown warren.protocol error";
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const protocol_category category;
    return category;
}

}  // namespace warren::protocol
