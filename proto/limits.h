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
// The drpcmigrate connection prefix "DRPC!!!1" (spec §10).
inline constexpr size_t kMigrateHeaderBytes = 8;

// --- Flow control (mux mode, spec §11.7) --------------------------------------------------------
// Per-stream receive window: bytes of Message data a sender may have in flight on one stream.
inline constexpr uint64_t kWindowDefaultBytes = 1 * kMiB;
inline constexpr uint64_t kWindowMinBytes = 1;
inline constexpr uint64_t kWindowMaxBytes = (uint64_t{1} << 31) - 1;

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

// --- Fibers and calls: what a server holds at once (impl/fiber, impl/runtime, impl/server) ---------
// Sized for the smallest machine class drpc-cpp is tuned on (2 cores, 24 GiB) and for Linux's
// default vm.max_map_count. A budget that is reached makes the request that needed it fail with a
// status (a refused stream, a closed connection); it never aborts the process.
//
// The kernel's default limit on memory maps per process (vm.max_map_count).
inline constexpr size_t kKernelMapsDefaultMaxCount = 65'530;
// Usable bytes of a production fiber stack (the simulator uses less); a guard page lies below it.
// Mapped without reserving swap: a fiber only costs the pages it touches.
inline constexpr size_t kFiberStackDefaultBytes = 256 * kKiB;
// Stacks carved from one memory mapping (a slab). With MADV_GUARD_INSTALL (Linux >= 6.13) the
// guard pages live in the page tables and a slab is one kernel map, whatever its stacks; on older
// kernels each guard is an mprotect'ed page that splits the mapping: two maps per stack.
inline constexpr size_t kFiberSlabStackCount = 64;
// Stacks one scheduler (the simulator, one production reactor) has in use at once; Spawn beyond
// it fails with kResourceExhausted. 32 Ki stacks reserve 8 GiB of address space, of which an idle
// fiber touches a few pages.
inline constexpr size_t kFiberStacksDefaultMaxCount = 32 * 1024;
// Kernel maps the fiber stacks of one scheduler may use. Two reactors (this machine class) stay
// within half the kernel's limit, leaving the rest to the allocator, threads and libraries.
inline constexpr size_t kFiberMapsDefaultMaxCount = 15 * 1024;
// Stacks a production reactor keeps beyond its budget for functions posted to it (a shutdown, an
// operator's call), so a reactor whose calls took every other stack can still be shut down.
inline constexpr size_t kFiberStacksReservedCount = 16;
// Free stacks whose memory a scheduler keeps for reuse; the memory of more is given back to the
// system (the stack stays mapped and guarded).
inline constexpr size_t kFiberStacksCachedDefaultMaxCount = 256;
// Calls a server runs at once across all its connections (a TcpServer: across all its reactors).
// Beyond it new streams are refused with kResourceExhausted (an Error packet; the connection and
// every other call go on). 16 Ki calls keep a handler fiber each: fits one reactor's stacks.
inline constexpr size_t kServerCallsDefaultMaxCount = 16 * 1024;
inline constexpr size_t kServerCallsLimitMaxCount = 1 << 20;

// --- Fairness: one fiber's turn (impl/runtime reactors, impl/ connection readers) ------------------
// A fiber whose socket never says "would block" (a peer that keeps up) would otherwise run on and
// starve every other connection, the acceptor and the timers of its reactor. A production fiber
// yields once its turn has moved this many bytes through sockets, or has lasted this long (checked
// at each socket operation); the reactor then runs the other fibers, fires due timers and polls.
inline constexpr size_t kTurnIoMaxBytes = 256 * kKiB;
inline constexpr int64_t kTurnMaxMicros = 1'000;
// A connection's reader yields after handling this many frames without waiting for the socket
// (one large read of tiny frames), in both runtimes.
inline constexpr size_t kTurnFramesMaxCount = 1024;

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
static_assert(kFiberStacksDefaultMaxCount / kFiberSlabStackCount <= kFiberMapsDefaultMaxCount,
              "with page-table guards the stack budget is reached before the map budget");
static_assert(2 * kFiberMapsDefaultMaxCount <= kKernelMapsDefaultMaxCount / 2,
              "two reactors' stacks take at most half the kernel's maps");
static_assert(kFiberStacksCachedDefaultMaxCount <= kFiberStacksDefaultMaxCount);
static_assert(kServerCallsDefaultMaxCount < kFiberStacksDefaultMaxCount,
              "a server whose calls all run on one reactor leaves stacks for connection fibers");
static_assert(kServerCallsDefaultMaxCount <= kServerCallsLimitMaxCount);
static_assert(kTurnIoMaxBytes >= kReadMinBytes, "a turn holds at least one ordinary read");
static_assert(kTurnFramesMaxCount * kFrameMinBytes <= kReadMaxBytes,
              "one maximal read of minimal frames takes several turns");

}  // namespace drpc::limits

#endif  // DRPC_PROTO_LIMITS_H_
