// Every limit of the DRPC wire format in one place: what a frame, packet, body, window and stream
// count may be — what both peers must agree on. (What a connection keeps, waits for and retries,
// invisible on the wire, is in impl/tunables.h.)
//
// Names: the thing first, then its qualifier (`Default`, `Min`, `Max`; `Limit` for the bounds of a
// configurable maximum), then the unit last (`..._bytes`, `..._count`). Options structs in impl/
// take their defaults and bounds from here; static_asserts below keep the limits consistent with
// each other.
// A length prefix received from a peer is checked against its limit *before* the body is
// buffered, so a hostile length never allocates.
#ifndef DRPC_PROTO_LIMITS_H_
#define DRPC_PROTO_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace drpc::limits {

inline constexpr size_t kKiB = 1024;
inline constexpr size_t kMiB = 1024 * kKiB;

// --- Varints and frame headers (docs/protocol.md §2) --------------------------------------------------------
// A uint64 takes at most 10 LEB128 bytes; a 10th byte with the continuation bit is "too long".
inline constexpr size_t kVarintMaxBytes = 10;
// header byte + stream ID + message ID + data length. Go's reader assumes 28 (9-byte varints);
// the true worst case is 31 (docs/protocol.md §13 item 6).
inline constexpr size_t kFrameHeaderMaxBytes = 1 + 3 * kVarintMaxBytes;
// The smallest frame: header byte and three one-byte varints (length 0).
inline constexpr size_t kFrameMinBytes = 4;

// --- Packets and frames (docs/protocol.md §2.4) -------------------------------------------------------------
// Go's reader default MaximumBufferSize: a reassembled packet larger than this is
// "data overflow", connection-fatal. Also our receive default, so we accept what Go accepts.
inline constexpr size_t kPacketDefaultMaxBytes = 4 * kMiB;
// Upper bound for a configured packet limit (keeps every size comfortably in 32 bits).
inline constexpr size_t kPacketLimitMaxBytes = 256 * kMiB;
// Smallest configurable packet limit (the drpcmigrate header, a Cancel, an Error code all fit).
inline constexpr size_t kPacketLimitMinBytes = 64;

// Go's default SplitSize: Invoke / InvokeMetadata / Message data is cut into frames of at most this.
inline constexpr size_t kSplitDefaultBytes = 64 * kKiB;
// Largest configurable split size: one frame never exceeds what a default Go reader accepts.
inline constexpr size_t kSplitMaxBytes = kPacketDefaultMaxBytes;
// Smallest split size (useful in tests: 1 makes every byte its own frame).
inline constexpr size_t kSplitMinBytes = 1;

// --- Packet bodies ------------------------------------------------------------------------------
// An RPC name ("/pkg.Service/Method") in an Invoke body. Go has no limit beyond the packet limit;
// real names are short, and a server looking up a 64 KiB name is already under attack.
inline constexpr size_t kRpcNameMaxBytes = 64 * kKiB;
// Encoded InvokeMetadata body (docs/protocol.md §5.2); at most the default packet limit.
inline constexpr size_t kMetadataMaxBytes = 1 * kMiB;
// Number of key/value pairs in one metadata body.
inline constexpr size_t kMetadataEntriesMaxCount = 4096;
// An Error packet is never split (docs/protocol.md §13 item 15): text longer than this is truncated by the
// sender so the frame always fits a default Go reader.
inline constexpr size_t kErrorTextMaxBytes = 64 * kKiB;
// Error body: 8-byte big-endian code, then text.
inline constexpr size_t kErrorCodeBytes = 8;
// Error body in the mux fork's format (proto/grpc_status.h): 0x01 + google.rpc.Status. Details
// (opaque google.protobuf.Any messages) a sender keeps within these bounds; a receiver rejects a
// body with more than kErrorDetailsMaxCount of them (a hostile body of empty details would
// otherwise cost a string per two bytes).
inline constexpr size_t kErrorVersionBytes = 1;
inline constexpr size_t kErrorDetailsMaxCount = 64;
inline constexpr size_t kErrorDetailsMaxBytes = 64 * kKiB;
// Our own detail carrying a DRPC code gRPC cannot express (type URL + one varint, with tags).
inline constexpr size_t kErrorCodeDetailMaxBytes = 64;
// The largest such body we send: version, code field, message field, details (each with a tag and
// a length of at most 5 bytes), the code detail.
inline constexpr size_t kGrpcErrorBodyMaxBytes =
    kErrorVersionBytes + (1 + kVarintMaxBytes) + (1 + 5 + kErrorTextMaxBytes) +
    kErrorDetailsMaxBytes + kErrorDetailsMaxCount * (1 + 5) + (1 + 5 + kErrorCodeDetailMaxBytes);
// The drpcmigrate connection prefix "DRPC!!!1" (docs/protocol.md §10).
inline constexpr size_t kMigrateHeaderBytes = 8;

// --- Flow control (mux mode, the fork's per-stream credit; docs/protocol.md §17) -------------------
// Nothing on the wire negotiates these: both peers of a connection are configured alike
// (impl/options.h, Options::flow). The fork's defaults:
// a stream's window: the credit each sender starts with, and what a receiver lets it have out;
inline constexpr uint64_t kStreamWindowDefaultBytes = 2 * kMiB;
// the credit a receiver accrues (messages its application consumed) before it sends one
// WindowUpdate carrying all of it;
inline constexpr uint64_t kGrantThresholdDefaultBytes = 512 * kKiB;
// the largest message (wire bytes, after compression) a flow-controlled stream sends or receives.
inline constexpr uint64_t kFlowMessageDefaultMaxBytes = 64 * kMiB;
// Bounds of a configured window (the threshold is at most the window).
inline constexpr uint64_t kStreamWindowLimitMinBytes = 1;
inline constexpr uint64_t kStreamWindowLimitMaxBytes = 1 * 1024 * kMiB;
// A WindowUpdate's delta is one varint in [1, 2^64-1]; a sender's credit is a signed balance that
// saturates here instead of overflowing (a hostile stream of grants cannot wrap it).
inline constexpr int64_t kSendCreditMaxBytes = INT64_MAX;

// --- Compression (mux mode, per stream; proto/compression.h) -------------------------------------
// The MinLZ block format's largest block; "minlz-fastest" sends larger messages as Snappy blocks.
inline constexpr size_t kMinLzBlockMaxBytes = 8 * kMiB;
// "minlz-fastest" sends messages of at most this size as Snappy blocks (the fork's rule).
inline constexpr size_t kMinLzSnappyThresholdBytes = 4 * kKiB;
// Largest length a Snappy block header can state (a uvarint32, as in Go's and Google's decoders).
inline constexpr uint64_t kSnappyBlockMaxBytes = 0xFFFFFFFFu;

// --- Streams (mux mode) ---------------------------------------------------------------------------
// Concurrent streams per mux connection; a server refuses Invokes beyond it with an Error.
inline constexpr size_t kStreamsDefaultMaxCount = 1024;
inline constexpr size_t kStreamsLimitMaxCount = 1 << 20;
// Streams whose InvokeMetadata arrived but whose Invoke has not.
inline constexpr size_t kPendingInvokesDefaultMaxCount = 64;

static_assert(kFrameHeaderMaxBytes == 31);
static_assert(kFrameMinBytes <= kFrameHeaderMaxBytes);
static_assert(kSplitDefaultBytes <= kSplitMaxBytes);
static_assert(kSplitMaxBytes <= kPacketDefaultMaxBytes,
              "a single frame we send must fit a default Go reader");
static_assert(kPacketLimitMinBytes <= kPacketDefaultMaxBytes);
static_assert(kPacketDefaultMaxBytes <= kPacketLimitMaxBytes);
static_assert(kPacketLimitMaxBytes + kFrameHeaderMaxBytes < (uint64_t{1} << 32));
static_assert(kRpcNameMaxBytes <= kPacketDefaultMaxBytes);
static_assert(kMetadataMaxBytes <= kPacketDefaultMaxBytes);
static_assert(kErrorCodeBytes + kErrorTextMaxBytes <= kPacketDefaultMaxBytes,
              "an Error packet is one frame and must fit a default Go reader");
static_assert(kGrpcErrorBodyMaxBytes <= kPacketDefaultMaxBytes,
              "a fork-format Error packet is one frame and must fit a default Go reader");
static_assert(kMinLzSnappyThresholdBytes < kMinLzBlockMaxBytes);
static_assert(kMinLzBlockMaxBytes <= kSnappyBlockMaxBytes);
static_assert(kStreamWindowLimitMinBytes <= kStreamWindowDefaultBytes &&
              kStreamWindowDefaultBytes <= kStreamWindowLimitMaxBytes);
static_assert(kGrantThresholdDefaultBytes <= kStreamWindowDefaultBytes);
static_assert(kPacketLimitMinBytes <= kFlowMessageDefaultMaxBytes &&
              kFlowMessageDefaultMaxBytes <= kPacketLimitMaxBytes);
// The liveness condition of the fork's configuration (docs/protocol.md §17.1): with frames of F =
// min(message, split) bytes, F <= window and threshold <= window - F, so a sender whose every
// byte was consumed always holds the credit for one more frame.
static_assert(kSplitDefaultBytes <= kStreamWindowDefaultBytes,
              "a default frame fits the default window");
static_assert(kGrantThresholdDefaultBytes <= kStreamWindowDefaultBytes - kSplitDefaultBytes,
              "the default configuration is live");
static_assert(kStreamWindowLimitMaxBytes + kPacketLimitMaxBytes < uint64_t{INT64_MAX},
              "a receive-queue cap (window + message) fits a signed credit");
static_assert(kStreamsDefaultMaxCount <= kStreamsLimitMaxCount);
static_assert(kPendingInvokesDefaultMaxCount <= kStreamsLimitMaxCount);

}  // namespace drpc::limits

#endif  // DRPC_PROTO_LIMITS_H_
