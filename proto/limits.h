// Every size limit of the DRPC wire format and of drpc-cpp's buffers, in one place.
//
// Names carry their unit last (`..._bytes`, `..._count`). Options structs in impl/ take their
// defaults and bounds from here; static_asserts below keep the limits consistent with each other.
// A length prefix received from a peer is checked against its limit *before* the body is
// buffered, so a hostile length never allocates.
#ifndef DRPC_PROTO_LIMITS_H_
#define DRPC_PROTO_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace drpc::limits {

inline constexpr size_t kKiB = 1024;
inline constexpr size_t kMiB = 1024 * kKiB;

// --- Varints and frame headers (spec §2) --------------------------------------------------------
// A uint64 takes at most 10 LEB128 bytes; a 10th byte with the continuation bit is "too long".
inline constexpr size_t kVarintMaxBytes = 10;
// header byte + stream ID + message ID + data length. Go's reader assumes 28 (9-byte varints);
// the true worst case is 31 (spec §13 item 6).
inline constexpr size_t kFrameHeaderMaxBytes = 1 + 3 * kVarintMaxBytes;
// The smallest frame: header byte and three one-byte varints (length 0).
inline constexpr size_t kFrameMinBytes = 4;

// --- Packets and frames (spec §2.4) -------------------------------------------------------------
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
// Encoded InvokeMetadata body (spec §5.2); at most the default packet limit.
inline constexpr size_t kMetadataMaxBytes = 1 * kMiB;
// Number of key/value pairs in one metadata body.
inline constexpr size_t kMetadataEntriesMaxCount = 4096;
// An Error packet is never split (spec §13 item 15): text longer than this is truncated by the
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
// The drpcmigrate connection prefix "DRPC!!!1" (spec §10).
inline constexpr size_t kMigrateHeaderBytes = 8;

// --- Flow control (mux mode, spec §11.7) --------------------------------------------------------
// Per-stream receive window: bytes of Message data a sender may have in flight on one stream.
inline constexpr uint64_t kWindowDefaultBytes = 1 * kMiB;
inline constexpr uint64_t kWindowMinBytes = 1;
inline constexpr uint64_t kWindowMaxBytes = (uint64_t{1} << 31) - 1;

// --- Compression (mux mode, per stream; proto/compression.h) -------------------------------------
// The MinLZ block format's largest block; "minlz-fastest" sends larger messages as Snappy blocks.
inline constexpr size_t kMinLzBlockMaxBytes = 8 * kMiB;
// "minlz-fastest" sends messages of at most this size as Snappy blocks (the fork's rule).
inline constexpr size_t kMinLzSnappyThresholdBytes = 4 * kKiB;
// Largest length a Snappy block header can state (a uvarint32, as in Go's and Google's decoders).
inline constexpr uint64_t kSnappyBlockMaxBytes = 0xFFFFFFFFu;

// --- Connection-level bounds (impl/ options take defaults and ranges from here) ------------------
// Concurrent streams per mux connection.
inline constexpr size_t kStreamsDefaultMaxCount = 1024;
inline constexpr size_t kStreamsLimitMaxCount = 1 << 20;
// Streams whose InvokeMetadata arrived but whose Invoke has not (mux mode).
inline constexpr size_t kPendingInvokesDefaultMaxCount = 64;
// Messages queued for one stream's receiver before back-pressure applies.
inline constexpr size_t kRecvQueueDefaultMaxCount = 256;
inline constexpr size_t kRecvQueueLimitMaxCount = 1 << 16;
// How long the connection's reader waits for space in a full receive queue before it fails that
// stream (the application is not reading it) and goes on with the other packets. Milliseconds,
// because proto/ has no time type; impl/options.h turns them into Durations.
inline constexpr int64_t kRecvStallTimeoutDefaultMillis = 10'000;
inline constexpr int64_t kRecvStallTimeoutMinMillis = 1;
inline constexpr int64_t kRecvStallTimeoutMaxMillis = 3'600'000;
// Connections a server serves at once; beyond it a new connection is closed at once.
inline constexpr size_t kConnectionsDefaultMaxCount = 4096;
inline constexpr size_t kConnectionsLimitMaxCount = 1 << 20;

// --- Writers --------------------------------------------------------------------------------------
// Upstream writer: buffered frames go out once this many bytes accumulate (Go's 4 KiB bufio size).
inline constexpr size_t kWriteBufferDefaultBytes = 4 * kKiB;
// Mux writer: frames of ready streams are gathered into one transport write up to this size.
inline constexpr size_t kWriteBatchDefaultBytes = 64 * kKiB;
// Mux writer: frames outside any stream queue (Error packets for refused or failed streams that
// were never registered) waiting to be written. Each is caused by the peer, so a peer that sends
// Invokes but does not read could otherwise grow this queue without end; beyond either bound the
// connection ends with a protocol error. (WindowUpdates are coalesced per stream, not queued.)
inline constexpr size_t kControlQueueMaxCount = 1024;
inline constexpr size_t kControlQueueMaxBytes = 256 * kKiB;

// --- Buffer pool (one per connection) -------------------------------------------------------------
// Message buffers handed back by the application (Stream::RecvInto) or dropped with a stream are
// kept for the next packet's assembly, up to these bounds; a larger buffer is freed instead.
inline constexpr size_t kBufferPoolMaxCount = 64;
inline constexpr size_t kBufferPoolMaxBytes = 4 * kMiB;
// 1 MiB: a stream of 1 MiB messages reuses its buffers instead of allocating (and growing, by
// copying) a fresh one per message; the total stays bounded by kBufferPoolMaxBytes.
inline constexpr size_t kBufferPoolBufferMaxBytes = 1 * kMiB;

// --- Connection I/O (impl/ managers) ---------------------------------------------------------------
// Bytes asked of the transport per read adapt between these (impl/read_sizer.h): small reads for
// chatty connections, up to 1 MiB under bulk transfer (fewer reads and wake-ups per message). The
// parser's buffer is bounded by one read plus the largest frame.
inline constexpr size_t kReadMinBytes = 64 * kKiB;
inline constexpr size_t kReadMaxBytes = 1 * kMiB;
// Upstream: a write buffer grown beyond this by one large packet is released after the flush
// instead of being kept for the next packet.
inline constexpr size_t kWriteBufferKeepBytes = 256 * kKiB;
// Upstream: a packet with at least this much data that would be flushed at once is sent with a
// gathering write (frame headers + slices of the caller's message) instead of being copied.
inline constexpr size_t kGatherWriteMinBytes = 64 * kKiB;
// Mux: SendLast's message up to this size is queued as a copy without waiting, so it and its
// CloseSend leave in one write; a larger one is not worth the copy and waits as usual.
inline constexpr size_t kUnflushedCopyMaxBytes = 16 * kKiB;

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
static_assert(kGrpcErrorBodyMaxBytes + kFrameHeaderMaxBytes <= kControlQueueMaxBytes,
              "the control queue holds at least one largest fork-format Error frame");
static_assert(kMinLzSnappyThresholdBytes < kMinLzBlockMaxBytes);
static_assert(kMinLzBlockMaxBytes <= kSnappyBlockMaxBytes);
static_assert(kWindowMinBytes <= kWindowDefaultBytes && kWindowDefaultBytes <= kWindowMaxBytes);
static_assert(kRecvQueueDefaultMaxCount <= kRecvQueueLimitMaxCount);
static_assert(kStreamsDefaultMaxCount <= kStreamsLimitMaxCount);
static_assert(kRecvStallTimeoutMinMillis <= kRecvStallTimeoutDefaultMillis &&
              kRecvStallTimeoutDefaultMillis <= kRecvStallTimeoutMaxMillis);
static_assert(kConnectionsDefaultMaxCount <= kConnectionsLimitMaxCount);
static_assert(kWriteBufferDefaultBytes <= kPacketLimitMaxBytes);
static_assert(kWriteBatchDefaultBytes <= kPacketLimitMaxBytes);
static_assert(kErrorCodeBytes + kErrorTextMaxBytes + kFrameHeaderMaxBytes <= kControlQueueMaxBytes,
              "the control queue holds at least one largest Error frame");
static_assert(kBufferPoolBufferMaxBytes <= kBufferPoolMaxBytes);
static_assert(kReadMinBytes <= kReadMaxBytes);

}  // namespace drpc::limits

#endif  // DRPC_PROTO_LIMITS_H_
