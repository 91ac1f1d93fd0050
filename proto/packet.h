// Packets: one logical message, reassembled from one or more frames that share a PacketId and a
// kind; the last frame has done=1 (docs/protocol.md §4).
//
// Two assembly modes:
//
//   UpstreamAssembler — Go drpc's reader (docs/protocol.md §4.2). IDs are globally monotonic per direction:
//     a frame with a lower (stream, message) than the last is a protocol error, which also rejects
//     stream or message ID 0 at the start; a higher ID silently discards a partial packet; a kind
//     change inside a packet is an error; a packet over the limit is "data overflow", an Invoke
//     or InvokeMetadata over its own smaller limit (PacketKindMaxBytes) is a protocol error as
//     soon as its frames exceed it; after a complete packet (s, m) the next acceptable ID is
//     (s, m+1).
//
//   MuxAssembler — per-stream assembly (docs/protocol.md §4.3, §11.2). Frames of different streams interleave
//     freely. Stream or message ID 0 is an error. Per stream: a lower message ID than expected is a
//     protocol error, a higher one discards that stream's partial packet, a kind change is an error,
//     after done the next expected ID is m+1. Packets over the per-stream limit are a
//     *stream-scoped* error: the stream's partial data is dropped and the caller fails that stream;
//     an Invoke or InvokeMetadata over its kind's limit (PacketKindMaxBytes) is a connection-scoped
//     protocol error as soon as its frames exceed it.
//
//   UpstreamAssembler assembler(UpstreamAssembler::Options{});
//   absl::StatusOr<std::optional<Packet>> p = assembler.OnFrame(frame);
//   if (!p.ok()) -> connection-fatal protocol error
//   else if (p->has_value()) -> a complete packet
#ifndef DRPC_PROTO_PACKET_H_
#define DRPC_PROTO_PACKET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "proto/base/check.h"
#include "proto/base/id_map.h"
#include "proto/frame.h"
#include "proto/limits.h"

namespace drpc {

struct Packet {
  PacketId id;
  Kind kind = Kind::kMessage;
  // The OR of the control bit over all frames of the packet (docs/protocol.md §3).
  bool control = false;
  std::string data;
};

// The largest packet of `kind` the assemblers accept under a packet limit of `packet_max_bytes`:
// an Invoke (an RPC name) at most limits::kRpcNameMaxBytes, an InvokeMetadata at most
// limits::kMetadataMaxBytes, any other kind the packet limit. Checked as each frame arrives, so a
// peer's oversized metadata or name fails at its first frame over the limit instead of being
// buffered whole first.
// Inline: the assemblers check it for every frame.
inline size_t PacketKindMaxBytes(Kind kind, size_t packet_max_bytes) {
  switch (kind) {
    case Kind::kInvoke:
      return packet_max_bytes < limits::kRpcNameMaxBytes ? packet_max_bytes
                                                         : limits::kRpcNameMaxBytes;
    case Kind::kInvokeMetadata:
      return packet_max_bytes < limits::kMetadataMaxBytes ? packet_max_bytes
                                                          : limits::kMetadataMaxBytes;
    default:
      return packet_max_bytes;
  }
}

// Where an assembler gets the data buffer of each new packet: a pool of reused buffers (impl/'s
// BufferPool), so a connection's steady state allocates nothing per message. The buffer returned
// is empty (its capacity is what is reused) and owned by the caller from then on. A packet that
// arrives whole in one frame with no data takes none.
class PacketBufferSource {
 public:
  virtual ~PacketBufferSource() = default;
  virtual std::string Take() = 0;
  // Take() into `out`, which must be a default (empty, never grown) string: a pooled buffer is
  // moved into it, or, with none pooled, `out` is left as it is (what moving a fresh string in
  // would leave). Saves the temporary of `out = Take()` on the path every packet takes.
  virtual void TakeInto(std::string& out) = 0;
};

// Sets `out` to the packet of `frame`, which is a whole packet on its own (done, nothing partial
// before it): its ID, kind and control flag, and its data copied into a buffer from `buffers`
// (nullptr: a fresh string). An empty packet (a CloseSend, an empty message) or one whose data
// fits in `out.data` as it is (a default string's inline storage) takes no buffer, as a pooled
// one would only be freed or given back with it. Shared by both assemblers' whole-packet paths;
// inline, as every such packet runs it.
inline void FillPacketFromWholeFrame(const Frame& frame, PacketBufferSource* buffers,
                                     Packet& out) {
  out.id = frame.id;
  out.kind = frame.kind;
  out.control = frame.control;
  DRPC_DCHECK(out.data.empty()) << "a whole packet fills a fresh Packet";
  if (frame.data.empty()) return;
  // Data that fits the string's inline storage takes no pooled buffer either (an RPC name, a
  // short message): its capacity would go unused, and the pool would only get it back.
  if (buffers != nullptr && frame.data.size() > out.data.capacity()) buffers->TakeInto(out.data);
  out.data.append(frame.data.data(), frame.data.size());
}

class UpstreamAssembler {
 public:
  struct Options {
    // Largest reassembled packet; Go's default MaximumBufferSize.
    size_t packet_max_bytes = limits::kPacketDefaultMaxBytes;
    // Buffers for new packets (nullptr: a fresh string each). Must outlive the assembler.
    PacketBufferSource* buffers = nullptr;
  };
  explicit UpstreamAssembler(Options options);

  // Feeds one frame. Errors are connection-fatal (kInvalidArgument with a message that starts
  // with "protocol error: " and names the IDs involved); after an error every later call returns
  // the same error. `lent`: see LendBuffer.
  absl::StatusOr<std::optional<Packet>> OnFrame(const Frame& frame,
                                                std::optional<std::string>* lent = nullptr);

  // OnFrame's common case without its result wrapper: a done frame that is a whole packet
  // (acceptable ID, nothing partial or lent, within its kind's limit). True with the packet in
  // `out` (a default-constructed Packet) and the state advanced exactly as OnFrame would; false
  // with nothing changed, and the frame then goes to OnFrame.
  bool TakeWholePacket(const Frame& frame, Packet& out);

  // A large frame's data read straight into its packet (the connection's reader; no copy through
  // the frame parser). LendBuffer returns the buffer the data of a frame `head` with `data_bytes`
  // bytes goes to — the packet it continues, holding that packet's data so far, or a new buffer
  // for a packet it starts — when OnFrame would append that frame without an error; else nullopt
  // (the frame takes the ordinary path). The caller appends exactly the frame's data to the
  // buffer and calls OnFrame(frame, &buffer) with frame.data viewing the appended bytes: the
  // packet takes the buffer back (`*lent` is reset) after the same checks as any frame. A buffer
  // that did not reach OnFrame goes back with Unlend. One buffer is lent at a time.
  std::optional<std::string> LendBuffer(const Frame& head, size_t data_bytes);
  void Unlend(std::string buffer);

  // The lowest acceptable ID: the last frame's ID, or (s, m+1) after a complete packet (s, m).
  // Starts at (1, 1), which is why zero IDs are rejected at the start.
  PacketId last() const { return last_; }
  // Bytes of a partially assembled packet.
  size_t partial_bytes() const;

 private:
  absl::Status Fail(absl::Status status);
  // After a complete packet with ID last_: the lowest ID that may follow it.
  void AdvanceLast();

  // OnFrame's common case: an acceptable done frame that starts and ends a packet (nothing
  // partial or lent, within its kind's limit, no error so far).
  bool IsWholePacket(const Frame& frame) const;
  // That frame's packet into `out`, the last ID advanced past it.
  void FillWholePacket(const Frame& frame, Packet& out);

  Options options_;
  PacketId last_{1, 1};
  // Set after a complete packet with ID (2^64-1, 2^64-1): no ID can follow it.
  bool ids_exhausted_ = false;
  std::optional<Packet> partial_;
  // The lent buffer's packet ID and the packet bytes it held when lent (partial_'s data is then
  // empty: they are in the buffer).
  struct Lent {
    PacketId id;
    size_t held_bytes = 0;
  };
  std::optional<Lent> lent_;
  absl::Status error_;  // sticky: every call after a protocol error returns it again
};

// A stream-scoped assembly failure in mux mode: the stream must be failed, the connection lives.
struct StreamAssemblyError {
  uint64_t stream = 0;
  absl::Status status;  // kResourceExhausted "message too large" with sizes and IDs
};

class MuxAssembler {
 public:
  struct Options {
    // Largest reassembled packet per stream (the per-stream maximum message size).
    size_t packet_max_bytes = limits::kPacketDefaultMaxBytes;
    // Streams with assembly state at once; beyond it a frame for a new stream is a
    // connection-scoped error (kResourceExhausted). Callers Forget() finished streams.
    size_t streams_max_count = limits::kStreamsDefaultMaxCount + limits::kPendingInvokesDefaultMaxCount;
    // Buffers for new packets (nullptr: a fresh string each). Must outlive the assembler.
    PacketBufferSource* buffers = nullptr;
    // Nodes of forgotten streams kept for new ones (proto/base/id_map.h).
    size_t spare_streams_max_count = 0;
  };
  explicit MuxAssembler(Options options);

  using Result = std::variant<std::monostate, Packet, StreamAssemblyError>;

  // Feeds one frame. A non-OK status is connection-fatal ("protocol error: ..."); otherwise the
  // result is nothing yet, a complete packet, or a stream-scoped error. After a stream-scoped
  // error, later frames of the same packet (same message ID) are dropped silently; the next
  // message ID starts fresh. After a connection-fatal error every later call returns it again.
  absl::StatusOr<Result> OnFrame(const Frame& frame, std::optional<std::string>* lent = nullptr);

  // OnFrame's common case without its result wrapper: a done frame that is a whole packet on its
  // stream (IDs acceptable, nothing partial, discarded or lent, within its kind's limit). True
  // with the packet in `out` (a default-constructed Packet) and the state advanced exactly as
  // OnFrame would; false with no observable change, and the frame then goes to OnFrame.
  bool TakeWholePacket(const Frame& frame, Packet& out);

  // A large frame's data read straight into its packet, as UpstreamAssembler::LendBuffer (a
  // stream-scoped overflow, a discarded message or a new stream beyond the limit: nullopt).
  // Forget() of the lent buffer's stream drops the loan: OnFrame then sees an ordinary frame of a
  // forgotten stream and copies its data.
  std::optional<std::string> LendBuffer(const Frame& head, size_t data_bytes);
  void Unlend(std::string buffer);

  // Drops all state for `stream` (called when the stream ends, so memory stays bounded).
  // A later frame for that stream starts from scratch.
  void Forget(uint64_t stream);

  size_t streams_tracked() const { return streams_.size(); }
  size_t partial_bytes(uint64_t stream) const;
  // Bytes of every stream's partial packet together (kept up to date, O(1)).
  size_t partial_bytes() const { return partial_total_bytes_; }

 private:
  struct StreamState {
    // Lowest acceptable message ID; while a packet is in progress, its own ID. 0 means no ID can
    // follow (a packet with message ID 2^64-1 completed).
    uint64_t next_message = 1;
    std::optional<Packet> partial;       // packet being assembled
    uint64_t discarding_message = 0;     // message ID whose frames are dropped after an overflow
  };
  absl::StatusOr<Result> Fail(absl::Status status);
  Result Overflow(uint64_t stream, StreamState& state, const Frame& frame);
  // The packet of an acceptable done frame that starts and ends it on `state`'s stream (nothing
  // partial or lent, within its kind's limit): OnFrame's common case.
  absl::StatusOr<Result> WholePacket(StreamState& state, const Frame& frame);
  // That frame's packet into `out`, the stream's next message ID advanced past it.
  void FillWholePacket(StreamState& state, const Frame& frame, Packet& out);
  // Drops the stream's partial packet, if any, from the total.
  void ResetPartial(StreamState& state);

  Options options_;
  absl::Status error_;  // sticky connection-scoped error
  size_t partial_total_bytes_ = 0;
  // The lent buffer's packet ID and the bytes its stream's partial packet held when lent (they
  // are in the buffer; not counted in partial_total_bytes_).
  struct Lent {
    PacketId id;
    size_t held_bytes = 0;
  };
  std::optional<Lent> lent_;
  // Ordered by stream ID: iteration (for tools and debugging) is deterministic.
  IdMap<StreamState> streams_;
};

}  // namespace drpc

#endif  // DRPC_PROTO_PACKET_H_
