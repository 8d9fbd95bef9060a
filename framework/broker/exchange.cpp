#include <warren/broker/exchange.hpp>
#include <warren/broker/queue.hpp>

#include <algorithm>
#include <iterator>

namespace warren::broker {

std::optional<exchange_kind> parse_exchange_kind(std::string_view s) noexcept {
    if (s == "direct") return exchange_kind::direct;
    if (s == "fanout") return exchange_kind::fanout;
    if (s == "topic") return exchange_kind::topic;
    if (s == "headers") return exchange_kind::headers;
    return std::nullopt;
}

std::string_view to_string(exchange_kind k) noexcept {
    switch (k) {
        case exchange_kind::direct:
            return "direct";
        case exchange_kind::fanout:
            return "fanout";
        case exchange_kind::topic:
            return "topic";
        case exchange_kind::headers:
            return "headers";
    }
    return "direct";
}

exchange::exchange(std::string name, exchange_kind kind, exchange_options options)
    : name_(std::move(name)), kind_(kind), options_(std::move(options)) {
    if (const auto* ae = options_.arguments.find("alternate-exchange")) {
        if (const auto* s = ae->get_if<std::string>()) alternate_ = *s;
    }
}

namespace {
bool same_binding(const binding& a, const binding& b) {
    return a.to_queue == b.to_queue && a.to_exchange == b.to_exchange && a.key == b.key &&
           a.arguments == b.arguments;
}
}  // namespace

bool exchange::add_binding(binding b) {
    auto [it, added] = by_key_.try_emplace(b.key);
    if (added && kind_ == exchange_kind::direct) {
        try {
            direct_.insert(&it->first, &it->second);
        } catch (...) {
            by_key_.erase(it);
            throw;
        }
    }
    auto& bucket = it->second;
    for (const auto& existing : bucket) {
        if (same_binding(existing, b)) return false;
    }
    bucket.push_back(std::move(b));
    ++binding_count_;
    return true;
}

bool exchange::remove_binding(const binding& b) {
    auto it = by_key_.find(b.key);
    if (it == by_key_.end()) return false;
    auto& bucket = it->second;
    auto pos = std::find_if(bucket.begin(), bucket.end(),
                            [&](const binding& e) { return same_binding(e, b); });
    if (pos == bucket.end()) return false;
    bucket.erase(pos);
    if (bucket.empty()) erase_bucket(it);
    --binding_count_;
    return true;
}

std::vector<binding> exchange::take_bindings_to(const queue& q,
                                                const std::vector<std::string>& keys) {
    // A repeated key finds nothing left to take the second time.
    std::vector<binding> out;
    for (const auto& key : keys) {
        auto it = by_key_.find(key);
        if (it == by_key_.end()) continue;
        auto& bucket = it->second;
        auto keep = std::stable_partition(bucket.begin(), bucket.end(),
                                          [&](const binding& e) { return e.to_queue != &q; });
        std::move(keep, bucket.end(), std::back_inserter(out));
        binding_count_ -= static_cast<std::size_t>(bucket.end() - keep);
        bucket.erase(keep, bucket.end());
        if (bucket.empty()) erase_bucket(it);
    }
    return out;
}

void exchange::remove_bindings_to(const exchange& x) {
    for (auto it = by_key_.begin(); it != by_key_.end();) {
        auto& bucket = it->second;
        auto before = bucket.size();
        std::erase_if(bucket, [&](const binding& e) { return e.to_exchange == &x; });
        binding_count_ -= before - bucket.size();
        if (bucket.empty()) {
            auto gone = it++;
            erase_bucket(gone);
        } else {
            ++it;
        }
    }
}

void exchange::erase_bucket(string_map<std::vector<binding>>::iterator it) {
    if (kind_ == exchange_kind::direct) direct_.erase(it->first);
    by_key_.erase(it);
}

std::vector<binding> exchange::bindings() const {
    std::vector<binding> out;
    out.reserve(binding_count_);
    for (const auto& [key, bucket] : by_key_) {
        out.insert(out.end(), bucket.begin(), bucket.end());
    }
    return out;
}

namespace {
void add_targets(const std::vector<binding>& bucket, std::vector<queue*>& queues,
                 std::vector<exchange*>& exchanges) {
    for (const auto& b : bucket) {
        if (b.to_queue) {
            queues.push_back(b.to_queue);
        } else {
            exchanges.push_back(b.to_exchange);
        }
    }
}
}  // namespace

void exchange::match(std::string_view routing_key, const protocol::field_table* headers,
                     std::vector<queue*>& queues, std::vector<exchange*>& exchanges) const {
    switch (kind_) {
        case exchange_kind::direct: {
            if (const auto* bucket = direct_.find(routing_key, detail::key_hash(routing_key))) {
                add_targets(*bucket, queues, exchanges);
            }
            break;
        }
        case exchange_kind::fanout:
            for (const auto& [key, bucket] : by_key_) add_targets(bucket, queues, exchanges);
            break;
        case exchange_kind::topic:
            for (const auto& [key, bucket] : by_key_) {
                if (topic_matches(key, routing_key)) add_targets(bucket, queues, exchanges);
            }
            break;
        case exchange_kind::headers:
            for (const auto& [key, bucket] : by_key_) {
                for (const auto& b : bucket) {
                    if (!headers_match(b.arguments, headers)) continue;
                    if (b.to_queue) {
                        queues.push_back(b.to_queue);
                    } else {
                        exchanges.push_back(b.to_exchange);
                    }
                }
            }
            break;
    }
}

void exchange::note_unbound_from(exchange& src) {
    auto it = bound_from_.find(&src);
    if (it != bound_from_.end() && --it->second == 0) bound_from_.erase(it);
}

std::vector<exchange*> exchange::sources() const {
    std::vector<exchange*> out;
    for (const auto& [x, n] : bound_from_) out.push_back(x);
    return out;
}

namespace {

// Splits on '.'; the empty string has zero words (RabbitMQ), "a." has two ("a", "").
void split_words(std::string_view s, std::vector<std::string_view>& out) {
    out.clear();
    if (s.empty()) return;
    std::size_t start = 0;
    for (;;) {
        auto dot = s.find('.', start);
        if (dot == std::string_view::npos) {
            out.push_back(s.substr(start));
            return;
        }
        out.push_back(s.substr(start, dot - start));
        start = dot + 1;
    }
}

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view key) noexcept {
    if (pattern == "#") return true;
    if (pattern.find_first_of("*#") == std::string_view::npos) return pattern == key;
    thread_local std::vector<std::string_view> pw, kw;
    thread_local std::vector<char> cur, next;
    split_words(pattern, pw);
    split_words(key, kw);
    const std::size_t n = pw.size();
    // NFA simulation over pattern positions: O(|pattern| * |key|), no backtracking blow-up.
    cur.assign(n + 1, 0);
    auto close = [&](std::vector<char>& s) {
        for (std::size_t i = 0; i < n; ++i) {
            if (s[i] && pw[i] == "#") s[i + 1] = 1;
        }
    };
    cur[0] = 1;
    close(cur);
    for (auto word : kw) {
        next.assign(n + 1, 0);
        bool any = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (!cur[i]) continue;
            if (pw[i] == "#") {
                next[i] = 1;
                any = true;
            } else if (pw[i] == "*" || pw[i] == word) {
                next[i + 1] = 1;
                any = true;
            }
        }
        if (!any) return false;
        close(next);
        cur.swap(next);
    }
    return cur[n] != 0;
}

namespace {

// Numbers (integers of any width, floats, doubles, timestamps) as a comparable value.
struct number {
    bool is_int = true;
    std::int64_t i = 0;
    double d = 0;
};

std::optional<number> as_number(const protocol::field_value& v) {
    if (auto i = v.as_integer()) return number{true, *i, 0};
    if (const auto* t = v.get_if<protocol::timestamp>()) {
        return number{true, static_cast<std::int64_t>(t->seconds), 0};
    }
    if (const auto* f = v.get_if<float>()) return number{false, 0, static_cast<double>(*f)};
    if (const auto* d = v.get_if<double>()) return number{false, 0, *d};
    return std::nullopt;
}

bool values_equal(const protocol::field_value& a, const protocol::field_value& b) {
    // RabbitMQ compares header values with Erlang's ==: numbers by value whatever their type
    // (1 == 1.0), strings and byte arrays by bytes; anything else (arrays, tables) exactly.
    auto an = as_number(a);
    auto bn = as_number(b);
    if (an && bn) {
        if (an->is_int && bn->is_int) return an->i == bn->i;
        double x = an->is_int ? static_cast<double>(an->i) : an->d;
        double y = bn->is_int ? static_cast<double>(bn->i) : bn->d;
        return x == y;
    }
    if (an || bn) return false;
    const auto* as = a.as_string();
    const auto* bs = b.as_string();
    if (as && bs) return *as == *bs;
    return a == b;
}

}  // namespace

bool headers_match(const protocol::field_table& args,
                   const protocol::field_table* headers) noexcept {
    bool match_all = true;
    bool with_x = false;
    if (const auto* xm = args.find("x-match")) {
        if (const auto* s = xm->as_string()) {
            if (*s == "any")
                match_all = false;
            else if (*s == "any-with-x")
                match_all = false, with_x = true;
            else if (*s == "all-with-x")
                with_x = true;
        }
    }
    bool any_matched = false;
    for (const auto& e : args.entries) {
        if (e.name == "x-match") continue;
        if (!with_x && e.name.starts_with("x-")) continue;
        const protocol::field_value* hv = headers ? headers->find(e.name) : nullptr;
        bool ok = hv != nullptr && (std::holds_alternative<std::monostate>(e.value.value) ||
                                    values_equal(e.value, *hv));
        if (match_all && !ok) return false;
        if (ok) any_matched = true;
    }
    return match_all ? true : any_matched;
}

}  // namespace warren::broker
