#pragma once
// Frames: the 8-byte protocol header, the general frame layout, an incremental parser that never
// trusts a length, and helpers that append complete frames to an output buffer.

#include <warren/protocol/error.hpp>
#include <warren/protocol/properties.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace warren::protocol {

/// "AMQP" 0 0 9 1: what a client sends first, and what a server answers to a bad header.
inline constexpr std::string_view protocol_header{"AMQP\x00\x00\x09\x01", 8};

enum class frame_type : std::uint8_t { method = 1, header = 2, body = 3, heartbeat = 8 };

inline constexpr std::uint8_t frame_end = 0xCE;
/// type(1) + channel(2) + size(4) + frame-end(1)
inline constexpr std::size_t frame_overhead = 8;
/// The smallest frame_max a peer may negotiate (spec FRAME-MIN-SIZE).
inline constexpr std::uint32_t frame_min_size = 4096;

/// A view of one complete frame inside the caller's buffer.
struct frame_view {
    frame_type type = frame_type::heartbeat;
    std::uint16_t channel = 0;
    std::string_view payload;
};

/// Outcome of parse_frame: `consumed == 0` and no error means "need more bytes".
struct parse_result {
    boost::system::error_code ec;
    std::size_t consumed = 0;
    frame_view frame;
};

/// The 7-octet header at the front of a frame, as sent (nothing in it checked).
struct frame_header {
    std::uint8_t type = 0;  ///< the type octet, possibly not a frame_type
    std::uint16_t channel = 0;
    std::uint32_t size = 0;  ///< payload octets
};

/// The header of the frame at the front of `in`; nullopt while fewer than 7 octets are there.
std::optional<frame_header> peek_frame_header(std::string_view in) noexcept;

/// The frame at the front of `in` once all of it is there, without checking its type, its
/// frame-end octet or a frame_max (parse_frame does): a cheap walk over frames for a look-ahead.
/// `consumed == 0` while it is incomplete; `frame.type` is the type octet as sent.
parse_result peek_frame(std::string_view in) noexcept;

/// A frame that parse_frame rejects, described as RabbitMQ 3.10's reader reports it.
struct frame_fault {
    error code = error::bad_frame_type;  ///< frame_too_large, bad_frame_end or bad_frame_type
    frame_header header;
    std::string_view payload;    ///< the whole payload (empty for frame_too_large)
    std::uint8_t end_octet = 0;  ///< for bad_frame_end: the octet found instead of frame_end
};

/// Diagnoses the frame at the front of `in` in RabbitMQ's order: it reads the 7-octet header
/// and refuses a payload over `frame_max - frame_overhead` (frame_max != 0) at once; otherwise it
/// reads the payload and the frame-end octet, checks that octet, and only then the type. Returns
/// nullopt while RabbitMQ would still be reading (more octets needed) and for a frame that is
/// well-formed, so a caller's error report does not depend on how the input was split.
std::optional<frame_fault> diagnose_frame(std::string_view in, std::uint32_t frame_max) noexcept;

/// Whether `in` starts with protocol_header. The verdict waits for all 8 octets (`incomplete`
/// until then), as RabbitMQ's does.
enum class header_match { incomplete, match, mismatch };
header_match match_protocol_header(std::string_view in) noexcept;

/// Parses one frame from the front of `in`. A frame whose total size exceeds `frame_max`
/// (when frame_max != 0) is `error::frame_too_large` as soon as its header is seen; a wrong
/// frame-end octet is `error::bad_frame_end`; an unknown type is `error::bad_frame_type`.
parse_result parse_frame(std::string_view in, std::uint32_t frame_max) noexcept;

/// A buffering wrapper over parse_frame for callers that receive arbitrary chunks. A reader
/// reads straight into the parser: `prepare(n)` gives writable space for at least n bytes,
/// `commit(k)` adds the k bytes written there; `feed()` does both for bytes held elsewhere.
/// Consumed frames are dropped lazily: the unparsed tail moves to the front only when prepare()
/// needs the room, so a large partial frame is not copied on every read.
class frame_parser {
  public:
    explicit frame_parser(std::uint32_t frame_max = 0) : frame_max_(frame_max) {}
    void set_frame_max(std::uint32_t frame_max) noexcept { frame_max_ = frame_max; }
    /// Appends bytes to the internal buffer.
    void feed(std::string_view bytes);
    /// Writable space of at least `n` bytes after the buffered ones (may be larger). Invalidates
    /// views from next().
    std::span<char> prepare(std::size_t n);
    /// Adds the first `n` bytes of the space from the last prepare() (n <= its size).
    void commit(std::size_t n) noexcept { end_ += n; }
    /// The next complete frame, std::nullopt when more bytes are needed, or an error (after
    /// which the parser must not be used). The view stays valid until the next
    /// feed()/prepare()/next().
    result<std::optional<frame_view>> next();
    std::size_t buffered() const noexcept { return end_ - pos_; }
    /// The buffered octets next() has not returned yet: complete frames, then a frame being
    /// assembled (or, after an error, the rejected frame and what follows it). Valid until the
    /// next feed()/prepare()/next()/consume().
    std::string_view unparsed() const noexcept { return {buf_.get() + pos_, end_ - pos_}; }
    /// Drops the first `n` octets of unparsed() (n <= buffered()): for octets that are not a
    /// frame, such as the protocol header a server reads first.
    void consume(std::size_t n) noexcept { pos_ += n < end_ - pos_ ? n : end_ - pos_; }
    /// Bytes of buffer held (what an idle connection costs).
    std::size_t capacity() const noexcept { return cap_; }

  private:
    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;
    std::size_t pos_ = 0;  // first unparsed byte
    std::size_t end_ = 0;  // one past the last buffered byte
    std::uint32_t frame_max_;
};

/// Appends a complete heartbeat frame.
void append_heartbeat(std::string& out);
/// Appends the 7-octet header of a frame whose `size`-octet payload the caller sends from
/// elsewhere (a gather write); the caller appends frame_end after that payload.
void append_frame_header(std::string& out, frame_type type, std::uint16_t channel,
                         std::uint32_t size);
/// Appends a frame with the given payload.
void append_frame(std::string& out, frame_type type, std::uint16_t channel,
                  std::string_view payload);
/// Appends a content header frame.
void append_content_header(std::string& out, std::uint16_t channel, const content_header& h);
/// Appends a content header frame whose properties are already encoded (flags + list), as kept
/// by the broker so that a message is encoded once and sent many times.
void append_content_header_raw(std::string& out, std::uint16_t channel, std::uint64_t body_size,
                               std::string_view encoded_properties);
/// Appends the body split into body frames of at most frame_max - 8 payload bytes each
/// (frame_max == 0: one frame). An empty body appends nothing.
void append_body_frames(std::string& out, std::uint16_t channel, std::string_view body,
                        std::uint32_t frame_max);

}  // namespace warren::protocol
