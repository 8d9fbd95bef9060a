#include <warren/client/error.hpp>
#include <warren/client/options.hpp>

#include <string>

namespace warren {

std::string to_string(exchange_type t) {
    switch (t) {
        case exchange_type::direct:
            return "direct";
        case exchange_type::fanout:
            return "fanout";
        case exchange_type::topic:
            return "topic";
        case exchange_type::headers:
            return "headers";
    }
    return "direct";
}

}  // namespace warren
