#include <warren/client/uri.hpp>

#include <cctype>
#include <charconv>
#include <limits>

namespace warren {

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string decode(std::string_view s, std::string_view what) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            throw uri_error("bad percent-escape in the " + std::string(what) + ": \"" +
                            std::string(s) + "\"");
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

template <class T>
T parse_number(std::string_view s, std::string_view what, std::uint64_t max) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v > max) {
        throw uri_error(std::string(what) + " must be a number from 0 to " + std::to_string(max) +
                        ", not \"" + std::string(s) + "\"");
    }
    return static_cast<T>(v);
}

// Returns whether the authority named a port.
bool parse_authority(std::string_view auth, uri& u) {
    if (auto at = auth.rfind('@'); at != std::string_view::npos) {
        auto userinfo = auth.substr(0, at);
        auth = auth.substr(at + 1);
        auto colon = userinfo.find(':');
        u.user = decode(userinfo.substr(0, colon), "user name");
        if (colon != std::string_view::npos)
            u.password = decode(userinfo.substr(colon + 1), "password");
    }
    std::string_view host = auth;
    std::string_view port;
    if (auth.starts_with('[')) {
        auto close = auth.find(']');
        if (close == std::string_view::npos)
            throw uri_error("unterminated IPv6 address in \"" + std::string(auth) + "\"");
        host = auth.substr(1, close - 1);
        auto rest = auth.substr(close + 1);
        if (!rest.empty() && rest[0] != ':')
            throw uri_error("unexpected text after the IPv6 address: \"" + std::string(rest) +
                            "\"");
        if (!rest.empty()) port = rest.substr(1);
    } else if (auto colon = auth.find(':'); colon != std::string_view::npos) {
        host = auth.substr(0, colon);
        port = auth.substr(colon + 1);
    }
    if (!host.empty()) u.host = decode(host, "host");
    if (!port.empty()) {
        u.port = parse_number<std::uint16_t>(port, "port", 65535);
        if (u.port == 0) throw uri_error("port must be from 1 to 65535, not 0");
    }
    return !port.empty();
}

void parse_query(std::string_view query, uri& u) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos)
            throw uri_error("query parameter \"" + std::string(item) + "\" has no value");
        const std::string key = decode(item.substr(0, eq), "query");
        const std::string value = decode(item.substr(eq + 1), "query");
        if (key == "heartbeat") {
            u.heartbeat = parse_number<std::uint16_t>(value, "heartbeat", 65535);
        } else if (key == "frame_max") {
            u.frame_max = parse_number<std::uint32_t>(value, "frame_max",
                                                      std::numeric_limits<std::uint32_t>::max());
            if (u.frame_max != 0 && u.frame_max < 4096)
                throw uri_error("frame_max must be 0 or at least 4096");
        } else if (key == "channel_max") {
            u.channel_max = parse_number<std::uint16_t>(value, "channel_max", 65535);
        } else if (key == "connection_timeout") {
            u.connection_timeout = parse_number<std::uint32_t>(
                value, "connection_timeout", std::numeric_limits<std::uint32_t>::max());
        } else {
            throw uri_error("unknown query parameter \"" + key +
                            "\" (known: heartbeat, frame_max, channel_max, connection_timeout)");
        }
    }
}

}  // namespace

uri parse_uri(std::string_view text) {
    uri u;
    auto sep = text.find("://");
    if (sep == std::string_view::npos)
        throw uri_error("not an AMQP URI (no \"amqp://\"): \"" + std::string(text) + "\"");
    auto scheme = text.substr(0, sep);
    if (scheme == "amqps") throw uri_error("amqps:// (TLS) is not supported");
    if (scheme == "embedded") {
        u.scheme = uri_scheme::embedded;
        u.host.clear();
    } else if (scheme != "amqp") {
        throw uri_error("unknown URI scheme \"" + std::string(scheme) +
                        "\" (expected amqp or embedded)");
    }
    auto rest = text.substr(sep + 3);
    if (rest.find('#') != std::string_view::npos) throw uri_error("AMQP URIs have no fragment (#)");
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    auto slash = rest.find('/');
    if (parse_authority(rest.substr(0, slash), u) && u.scheme == uri_scheme::embedded) {
        throw uri_error("an embedded:// URI names a broker in this process and has no port");
    }
    if (slash != std::string_view::npos) {
        auto path = rest.substr(slash + 1);
        if (path.find('/') != std::string_view::npos) {
            throw uri_error("the vhost must be one path segment (write \"/\" as %2F): \"" +
                            std::string(path) + "\"");
        }
        u.vhost = decode(path, "vhost");
    }
    parse_query(query, u);
    return u;
}

std::string to_string(const uri& u) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string vhost;
    for (char c : u.vhost) {
        const auto b = static_cast<unsigned char>(c);
        if (std::isalnum(b) || c == '-' || c == '_' || c == '.' || c == '~') {
            vhost.push_back(c);
        } else {
            vhost += {'%', hex[b >> 4], hex[b & 15]};
        }
    }
    if (u.scheme == uri_scheme::embedded)
        return "embedded://" + u.user + "@" + u.host + "/" + vhost;
    const bool v6 = u.host.find(':') != std::string::npos;
    return "amqp://" + u.user + "@" + (v6 ? "[" + u.host + "]" : u.host) + ":" +
           std::to_string(u.port) + "/" + vhost;
}

}  // namespace warren
