#include "arguments.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace warren::broker::detail {

namespace {

bool is_numeric(const protocol::field_value& v) {
    return v.as_integer() || v.get_if<float>() || v.get_if<double>();
}

std::optional<double> as_double(const protocol::field_value& v) {
    if (auto i = v.as_integer()) return static_cast<double>(*i);
    if (const auto* f = v.get_if<float>()) return static_cast<double>(*f);
    if (const auto* d = v.get_if<double>()) return *d;
    return std::nullopt;
}

bool equivalent(const protocol::field_value& a, const protocol::field_value& b) {
    // Integer types are interchangeable (compared by value), as are float and double; an
    // integer never equals a float ("received '1.0e3' but current is '1000'").
    auto ai = a.as_integer();
    auto bi = b.as_integer();
    if (ai || bi) return ai && bi && *ai == *bi;
    if (is_numeric(a) && is_numeric(b)) return *as_double(a) == *as_double(b);
    return a.type_tag() == b.type_tag() && a == b;
}

// Erlang's rendering of the raw value: binaries as their bytes, numbers and atoms as ~p.
std::string raw(const protocol::field_value& v) {
    if (const auto* s = v.as_string()) return *s;
    if (auto i = v.as_integer()) return std::to_string(*i);
    if (const auto* b = v.get_if<bool>()) return *b ? "true" : "false";
    if (auto d = as_double(v)) return erlang_float(*d);
    if (v.get_if<protocol::timestamp>())
        return std::to_string(v.get_if<protocol::timestamp>()->seconds);
    return "...";
}

std::string shown(const protocol::field_value* v, bool typed) {
    if (!v) return "none";
    if (typed) return "the value '" + raw(*v) + "' of type '" + std::string(type_name(*v)) + "'";
    return "'" + raw(*v) + "'";
}

}  // namespace

std::string erlang_float(double d) {
    // Erlang's shortest round-trip digits, written as fixed ("5.0") or scientific ("1.0e3"),
    // whichever is shorter (fixed on a tie).
    char buf[64];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string sci(buf);
    auto epos = sci.find('e');
    std::string mant = sci.substr(0, epos);
    int exp = std::atoi(sci.c_str() + epos + 1);
    bool neg = !mant.empty() && mant[0] == '-';
    if (neg) mant.erase(0, 1);
    std::string digits;
    for (char c : mant) {
        if (c != '.') digits.push_back(c);
    }
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string s_sci = digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0") +
                        "e" + std::to_string(exp);
    std::string fixed;
    const int n = static_cast<int>(digits.size());
    if (exp >= 0) {
        if (exp + 1 >= n) {
            fixed = digits + std::string(static_cast<std::size_t>(exp + 1 - n), '0') + ".0";
        } else {
            fixed = digits.substr(0, static_cast<std::size_t>(exp + 1)) + "." +
                    digits.substr(static_cast<std::size_t>(exp + 1));
        }
    } else {
        fixed = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    }
    const std::string& best = fixed.size() <= s_sci.size() ? fixed : s_sci;
    return neg ? "-" + best : best;
}

std::string_view type_name(const protocol::field_value& v) noexcept {
    switch (v.type_tag()) {
        case 't':
            return "bool";
        case 'b':
            return "byte";
        case 'B':
            return "unsignedbyte";
        case 's':
            return "short";
        case 'u':
            return "unsignedshort";
        case 'I':
            return "signedint";
        case 'i':
            return "unsignedint";
        case 'l':
            return "long";
        case 'f':
            return "float";
        case 'd':
            return "double";
        case 'D':
            return "decimal";
        case 'S':
            return "longstr";
        case 'x':
            return "binary";
        case 'A':
            return "array";
        case 'T':
            return "timestamp";
        case 'F':
            return "table";
        default:
            return "void";
    }
}

result<void> check_equivalent(std::string_view what, const protocol::field_table& current,
                              const protocol::field_table& requested,
                              std::span<const std::string_view> keys) {
    for (auto key : keys) {
        const auto* cur = current.find(key);
        const auto* req = requested.find(key);
        if (!cur && !req) continue;
        // Adding x-queue-type "classic" to a classic queue is not a difference.
        if (key == "x-queue-type" && !cur && req && req->type_tag() == 'S' &&
            *req->as_string() == "classic") {
            continue;
        }
        if (cur && req && equivalent(*cur, *req)) continue;
        // Both present: the bare values; one missing: "none" against "the value ... of type ...".
        const bool typed = !(cur && req);
        return make_error(reply_code::precondition_failed,
                          "inequivalent arg '" + std::string(key) + "' for " + std::string(what) +
                              ": received " + shown(req, typed) + " but current is " +
                              shown(cur, typed));
    }
    return {};
}

// ---- priority queues, single active consumer, alternate exchanges ----

std::optional<std::string> max_priority_error(const protocol::field_value& v) {
    auto n = v.as_integer();
    if (!n) return "\"expected integer, got " + std::string(type_name(v)) + "\"";
    if (*n < 0) return "{value_negative," + std::to_string(*n) + "}";
    if (*n > 255) return "{max_value_exceeded," + std::to_string(*n) + "}";
    return std::nullopt;
}

std::optional<std::string> single_active_consumer_error(const protocol::field_value& v) {
    if (v.get_if<bool>()) return std::nullopt;
    return "{unacceptable_type," + std::string(type_name(v)) + "}";
}

result<void> check_priority_and_sac_arguments(std::string_view what,
                                              const protocol::field_table& args) {
    using check = std::optional<std::string> (*)(const protocol::field_value&);
    static constexpr std::pair<std::string_view, check> checks[] = {
        {"x-max-priority", &max_priority_error},
        {"x-single-active-consumer", &single_active_consumer_error}};
    for (const auto& [key, fn] : checks) {
        const auto* v = args.find(key);
        if (!v) continue;
        if (auto reason = fn(*v)) {
            return make_error(
                reply_code::precondition_failed,
                "invalid arg '" + std::string(key) + "' for " + std::string(what) + ": " + *reason);
        }
    }
    return {};
}

result<void> check_alternate_exchange_argument(std::string_view what,
                                               const protocol::field_table& args) {
    const auto* v = args.find("alternate-exchange");
    if (!v || v->get_if<std::string>()) return {};
    return make_error(reply_code::precondition_failed,
                      "invalid type '" + std::string(type_name(*v)) +
                          "' for arg 'alternate-exchange' in " + std::string(what));
}

}  // namespace warren::broker::detail
