// Recovery: definitions first, then every segment in order; rebuilds the broker's persisted
// state and the store's accounting, drops damaged tails, then starts the writer.
#include "detail/file_io.hpp"
#include "detail/store_state.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/vhost.hpp>
#include <warren/store/record.hpp>
#include <warren/store/store.hpp>

#include <algorithm>
#include <charconv>
#include <unordered_map>

namespace warren::store {

namespace detail {
namespace {

struct recovered_entry {
    broker::message_ptr msg;
    std::uint32_t segment = 0;
    bool delivered = false;
    bool removed = false;
};

struct queue_scan {
    std::vector<recovered_entry> entries;
    std::unordered_map<std::uint64_t, std::size_t> index;
};

struct scan_state {
    store_state& s;
    std::unordered_map<std::uint32_t, queue_scan> queues;  // only queues in the definitions
    std::uint64_t max_id = 0;
    recovery_stats& stats;
    enqueue_record scratch;
};

broker::message_ptr make_message(const enqueue_record& r) {
    auto m = std::make_shared<broker::message>();
    m->id = r.id;
    m->exchange.assign(r.exchange);
    m->routing_key.assign(r.routing_key);
    m->encoded_properties.assign(r.properties);
    m->body.assign(r.body);
    m->published_ms = r.published_ms;
    std::string_view props = r.properties;
    if (auto p = protocol::decode_properties(props)) {
        m->properties = std::move(*p);
    } else {
        m->properties.delivery_mode = 2;
    }
    if (m->properties.expiration) {
        if (auto ms = broker::parse_expiration_ms(*m->properties.expiration))
            m->expiration_ms = *ms;
    }
    return m;
}

// false: the record is malformed although its checksum matched (treated as damage)
bool apply(scan_state& st, std::uint32_t seg, const record_view& rec) {
    switch (rec.kind) {
        case record_kind::enqueue:
        case record_kind::enqueue_timed: {
            auto& r = st.scratch;
            const bool ok = rec.kind == record_kind::enqueue ? decode_enqueue(rec.payload, r)
                                                             : decode_enqueue_timed(rec.payload, r);
            if (!ok) return false;
            st.max_id = std::max(st.max_id, r.id);
            broker::message_ptr msg;
            for (auto q : r.queues) {
                auto it = st.queues.find(q);
                if (it == st.queues.end()) continue;  // a deleted queue
                if (!msg) msg = make_message(r);
                it->second.index[r.id] = it->second.entries.size();
                it->second.entries.push_back(recovered_entry{msg, seg, false, false});
            }
            return true;
        }
        case record_kind::delivered:
        case record_kind::removed: {
            settle_record r;
            if (!decode_settle(rec.payload, r)) return false;
            st.max_id = std::max(st.max_id, r.id);
            auto it = st.queues.find(r.queue);
            if (it == st.queues.end()) return true;
            auto idx = it->second.index.find(r.id);
            if (idx == it->second.index.end()) return true;
            auto& e = it->second.entries[idx->second];
            if (rec.kind == record_kind::delivered) {
                e.delivered = true;
                return true;
            }
            e.removed = true;
            e.msg.reset();
            it->second.index.erase(idx);
            if (e.segment != seg) st.s.add_dep(seg, e.segment);
            return true;
        }
        default:
            return false;
    }
}

void scan_segment(scan_state& st, std::uint32_t seg, const std::filesystem::path& path) {
    const std::string data = read_file(path);
    auto& s = st.s;
    s.segments[seg].bytes = data.size();
    ++st.stats.segments;
    if (!std::string_view(data).starts_with(segment_magic)) {
        s.log("segment " + path.string() + ": no segment header (" + std::to_string(data.size()) +
              " bytes); ignored");
        if (data.size() < segment_magic.size()) truncate_file(path, 0);
        return;
    }
    std::size_t offset = segment_magic.size();
    const std::string_view all(data);
    for (;;) {
        record_view rec;
        const auto status = parse_record(all.substr(offset), rec);
        if (status == parse_status::end) return;
        if (status == parse_status::ok && apply(st, seg, rec)) {
            offset += rec.size;
            continue;
        }
        s.log("segment " + path.string() + ": " +
              (status == parse_status::torn ? "torn" : "corrupt") + " record at offset " +
              std::to_string(offset) + "; dropping the last " +
              std::to_string(data.size() - offset) + " bytes");
        ++st.stats.damaged_records;
        truncate_file(path, offset);
        return;
    }
}

std::vector<std::pair<std::uint32_t, std::filesystem::path>> list_segments(
    const std::filesystem::path& dir) {
    std::vector<std::pair<std::uint32_t, std::filesystem::path>> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const auto name = e.path().filename().string();
        if (!name.ends_with(".seg")) continue;
        std::uint32_t n = 0;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size() - 4, n);
        if (ec != std::errc{} || p != name.data() + name.size() - 4 || n == 0) continue;
        out.emplace_back(n, e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

broker::vhost& vhost_of(broker::broker& b, const std::string& name) {
    if (auto* vh = b.find_vhost(name)) return *vh;
    return b.add_vhost(name);
}

void rebuild_topology(store_state& s, broker::broker& b, recovery_stats& stats) {
    auto& d = s.defs;
    for (const auto& [key, x] : d.exchanges) {
        vhost_of(b, x.vhost).recover_exchange(x.name, x.kind, x.options);
        ++stats.exchanges;
    }
    for (const auto& [id, q] : d.queues) {
        auto& vh = vhost_of(b, q.vhost);
        vh.add_queue(q.name, q.options, nullptr)->set_store_id(id);
        ++stats.queues;
    }
    std::erase_if(d.bindings, [&](const broker::binding_definition& bd) {
        auto& vh = vhost_of(b, bd.vhost);
        auto* src = vh.find_exchange(bd.source);
        bool ok = false;
        if (src && bd.destination_is_queue) {
            if (auto q = vh.find_queue(bd.destination))
                ok = static_cast<bool>(vh.bind_queue(*q, *src, bd.key, bd.arguments));
        } else if (src) {
            if (auto* dst = vh.find_exchange(bd.destination))
                ok = static_cast<bool>(vh.bind_exchange(*dst, *src, bd.key, bd.arguments));
        }
        if (!ok) {
            s.log("dropping binding " + bd.source + " -> " + bd.destination + " in vhost '" +
                  bd.vhost + "': an end is missing");
            s.defs_dirty = true;
        } else {
            ++stats.bindings;
        }
        return !ok;
    });
}

void load_definitions(store_state& s) {
    std::error_code ec;
    auto tmp = s.definitions_path;
    tmp += ".tmp";
    std::filesystem::remove(tmp, ec);
    if (!std::filesystem::exists(s.definitions_path)) return;
    std::string problem;
    if (!decode_definitions(read_file(s.definitions_path), s.defs, problem)) {
        s.log("definitions: " + problem + "; keeping the definitions before it");
        s.defs_dirty = true;
    }
}

}  // namespace
}  // namespace detail

recovery_stats store::recover(broker::broker& b) {
    const auto t0 = std::chrono::steady_clock::now();
    auto& s = *s_;
    recovery_stats stats;
    detail::load_definitions(s);
    detail::rebuild_topology(s, b, stats);
    detail::scan_state st{s, {}, 0, stats, {}};
    for (const auto& [id, q] : s.defs.queues) st.queues[id];
    std::uint32_t last = 0;
    for (const auto& [seg, path] : detail::list_segments(s.segments_dir)) {
        detail::scan_segment(st, seg, path);
        last = seg;
    }
    for (auto& [qid, scan] : st.queues) {
        auto* vh = b.find_vhost(s.defs.queues[qid].vhost);
        auto q = vh ? vh->find_queue(s.defs.queues[qid].name) : nullptr;
        auto& live = s.live[qid];
        for (auto& e : scan.entries) {
            if (e.removed || !q) continue;
            live[e.msg->id] = e.segment;
            ++s.segments[e.segment].live;
            const auto published = e.msg->published_ms;
            q->recover(std::move(e.msg), e.delivered, published);
            ++stats.messages;
        }
    }
    b.set_next_message_id(std::max<std::uint64_t>(st.max_id + 1, 1));
    s.current = last + 1;
    s.segments[s.current];
    std::vector<std::uint32_t> sealed;
    for (const auto& [seg, state] : s.segments) sealed.push_back(seg);
    for (auto seg : sealed) s.maybe_gc(seg);
    s.recovered = true;
    s.writer = std::thread([&s] { s.writer_loop(); });
    stats.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - t0);
    return stats;
}

}  // namespace warren::store
