#pragma once
// The record format shared by message segments and the definitions file (docs/durability.md):
//
//   u32 length | u32 crc32c | u8 kind | payload         (little-endian)
//
// `length` counts kind + payload; the crc covers the 4 length bytes, the kind and the payload,
// so a damaged length is detected too. Pure functions: no I/O, no allocation beyond `out`.

#include <warren/broker/message.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::store {

enum class record_kind : std::uint8_t {
    // message segments
    enqueue = 1,    ///< a persistent message and the persisted queues it was routed to
    delivered = 2,  ///< (queue, id) was handed to a consumer that must ack it
    removed = 3,    ///< (queue, id) left the queue for good
    enqueue_timed =
        4,  ///< i64 wall-clock publish time (ms), then as `enqueue` (what the store writes)
    // definitions file
    meta = 16,  ///< next queue id
    exchange = 17,
    queue = 18,
    binding = 19,
    end = 20,  ///< the last record of a complete definitions file
};

inline constexpr std::size_t record_header_size = 8;
/// Larger lengths are damage: the broker caps bodies at 128 MiB by default.
inline constexpr std::uint32_t max_record_length = 1u << 30;
/// The first 8 bytes of every segment file and of the definitions file.
inline constexpr std::string_view segment_magic{"WRNSEG01", 8};
inline constexpr std::string_view definitions_magic{"WRNDEF01", 8};

/// Starts a record in `out`; returns the offset to pass to end_record.
std::size_t begin_record(std::string& out, record_kind kind);
/// Patches length and crc of the record begun at `start` (its payload is everything after).
void end_record(std::string& out, std::size_t start);

/// Appends an enqueue record: id, queues, exchange, routing key, encoded properties, body.
void append_enqueue(std::string& out, const broker::message& m,
                    std::span<const std::uint32_t> queues);
/// Appends a delivered or removed record.
void append_settle(std::string& out, record_kind kind, std::uint32_t queue, std::uint64_t id);

enum class parse_status {
    ok,       ///< a complete record with a good checksum
    end,      ///< no bytes left
    torn,     ///< the input ends inside a record (a write cut short)
    corrupt,  ///< impossible length or checksum mismatch
};

struct record_view {
    record_kind kind = record_kind::end;
    std::string_view payload;
    std::size_t size = 0;  ///< header + kind + payload: how far to advance
};

/// Parses the record at the front of `in`. Never throws; never reads outside `in`.
parse_status parse_record(std::string_view in, record_view& out) noexcept;

struct enqueue_record {
    std::uint64_t id = 0;
    std::int64_t published_ms = 0;  ///< 0 in records of kind `enqueue` (written by older versions)
    std::vector<std::uint32_t> queues;
    std::string_view exchange;
    std::string_view routing_key;
    std::string_view properties;  ///< flags + property list, as received
    std::string_view body;
};

struct settle_record {
    std::uint32_t queue = 0;
    std::uint64_t id = 0;
};

/// Decode a payload (views into it); false when it is malformed.
bool decode_enqueue(std::string_view payload, enqueue_record& out);
/// Kind `enqueue_timed`: the publish time, then an `enqueue` payload.
bool decode_enqueue_timed(std::string_view payload, enqueue_record& out);
bool decode_settle(std::string_view payload, settle_record& out) noexcept;

}  // namespace warren::store
