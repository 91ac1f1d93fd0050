// Every I/O and buffer tunable of impl/ in one place: what a connection, a server and the runtime
// keep, wait for and retry — none of it visible on the wire. (Wire limits, which both peers must
// agree on, live in proto/limits.h.)
//
// Naming, here and in every Options struct: the thing first, then its qualifier (`Default`,
// `Min`, `Max`; `Limit` for the bounds of a configurable maximum), then the unit last
// (`_bytes`, `_count`; Durations carry their unit in their type). Options take their defaults and
// ranges from here; static_asserts below keep the tunables consistent with each other and with
// the wire limits.
//
//   std::string buffer;
//   ... write it out ...
//   if (buffer.capacity() > tunables::kWriteBufferKeepMaxBytes) std::string().swap(buffer);
#ifndef DRPC_IMPL_TUNABLES_H_
#define DRPC_IMPL_TUNABLES_H_

#include <cstddef>
#include <cstdint>

#include "impl/time.h"
#include "proto/limits.h"

namespace drpc::tunables {

using limits::kKiB;
using limits::kMiB;

// --- Receive buffering (streams without flow control; Options::recv_*) ---------------------------
// Messages queued for one stream's receiver before the connection's reader waits for it.
inline constexpr size_t kRecvQueueDefaultMaxCount = 256;
inline constexpr size_t kRecvQueueLimitMaxCount = 1 << 16;
// Bytes queued for one stream's receiver before the reader waits: one largest default packet.
inline constexpr size_t kRecvQueueDefaultMaxBytes = limits::kPacketDefaultMaxBytes;
// How long the reader waits for space in a full receive queue before it fails that stream (the
// application is not reading it) and goes on with the other packets.
inline constexpr Duration kRecvStallTimeoutDefault = Duration::Seconds(10);
inline constexpr Duration kRecvStallTimeoutMin = Duration::Millis(1);
inline constexpr Duration kRecvStallTimeoutMax = Duration::Seconds(3600);

// --- Reading (impl/manager.cc, impl/read_sizer.h) ------------------------------------------------
// Bytes asked of the transport per read adapt between these: small reads for chatty connections,
// up to 1 MiB under bulk transfer (fewer reads and wake-ups per message). The parser's buffer is
// bounded by one read plus the largest frame.
inline constexpr size_t kReadMinBytes = 64 * kKiB;
inline constexpr size_t kReadMaxBytes = 1 * kMiB;
// Between frames, after a read that came back short (the peer paused), a reader asks for this
// much, into a frame buffer shrunk to it: all an idle connection keeps for reading. A call larger
// than this costs one more read (the reads after the first are sized as above).
inline constexpr size_t kReadIdleBytes = 8 * kKiB;
// A frame with at least this much data still to come once its header is read goes from the
// transport straight into its packet's buffer (no copy through the frame buffer). Each of those
// reads also asks for kReadAfterDirectBytes more into the frame buffer (Transport::ReadV: one
// readv on TCP), enough for the next header, so the frames of a large message all go straight
// to their packet at one read per frame. Smaller frames, Go's default 64 KiB included, are read
// in bulk and copied: a read per 64 KiB frame (and the zero-fill of the packet buffer it grows)
// measured slower on loopback than bulk reads of up to 1 MiB and a copy (BENCHMARKS.md, "Why
// 1 MiB still misses with Go's 64 KiB frames"). A transport without vectored reads (TLS) pays
// two reads per straight frame.
inline constexpr size_t kReadDirectMinBytes = 128 * kKiB;
inline constexpr size_t kReadAfterDirectBytes = 1 * kKiB;

// --- Writing -------------------------------------------------------------------------------------
// Upstream writer: buffered frames go out once this many bytes accumulate (Go's 4 KiB bufio size;
// Options::write_buffer_bytes).
inline constexpr size_t kWriteBufferDefaultBytes = 4 * kKiB;
// Upstream: a write buffer grown beyond this by one large packet is released after the flush
// instead of being kept for the next packet.
inline constexpr size_t kWriteBufferKeepMaxBytes = 256 * kKiB;
// A client (upstream or mux): the buffer of a stream's encoded InvokeMetadata is kept for the next
// stream's if its capacity is at most this (one allocation fewer per call with metadata).
inline constexpr size_t kInvokeMetadataSpareMaxBytes = 1 * kKiB;
// Server: a finished call's decoded metadata (map nodes and their strings) is kept for the next
// call's decode if it holds at most this many entries of at most this much string capacity in
// all (two allocations fewer per call with one entry, and its frees).
inline constexpr size_t kIncomingMetadataSpareMaxCount = 8;
inline constexpr size_t kIncomingMetadataSpareMaxBytes = 1 * kKiB;
// Upstream: messages a sender writes in a row (Stream::Send) collect in the write buffer up to
// this many bytes (or write_buffer_bytes, if larger) before the sender writes them itself; less
// is written by the connection's flusher fiber as soon as the sender waits (impl/upstream_manager.h).
inline constexpr size_t kWriteCoalesceMaxBytes = 64 * kKiB;
// Upstream: a packet with at least this much data that would be flushed at once is sent with a
// gathering write (frame headers + slices of the caller's message) instead of being copied.
inline constexpr size_t kGatherWriteMinBytes = 64 * kKiB;
// Mux writer: frames of ready streams are gathered into one transport write up to this size
// (Options::write_batch_max_bytes).
inline constexpr size_t kWriteBatchDefaultMaxBytes = 64 * kKiB;
// Mux writer: a batch buffer that grew for a burst beyond this is released afterwards.
inline constexpr size_t kWriteBatchKeepMaxBytes = 1 * kMiB;
// Mux writer: a frame with at least this much data of a packet whose sender waits for it (a
// large Send) goes to the transport from the sender's own memory (a gathering write) instead of
// being copied into the batch buffer; smaller frames are copied, so a batch of many small frames
// stays one contiguous write.
inline constexpr size_t kGatherFrameMinBytes = 16 * kKiB;
static_assert(kWriteCoalesceMaxBytes <= kWriteBufferKeepMaxBytes,
              "a coalescing write buffer is kept between flushes");
// Mux: SendLast's message up to this size is queued as a copy without waiting, so it and its
// CloseSend leave in one write; a larger one is not worth the copy and waits as usual.
inline constexpr size_t kUnflushedCopyMaxBytes = 16 * kKiB;
// Mux: Stream::Send's message up to kUnflushedCopyMaxBytes is also queued as a copy without
// waiting, while its stream has fewer than this many packets queued (and, with flow control, the
// credit covers it): a burst of small messages leaves in few batches. Beyond, Send waits for the
// writer, so one stream's copies stay bounded (this many x kUnflushedCopyMaxBytes).
inline constexpr size_t kWriteQueuedMaxCount = 64;
// Mux writer: frames outside any stream queue (Error packets for refused or failed streams that
// were never registered) waiting to be written. Each is caused by the peer; beyond either bound
// the connection's reader waits for the writer (back-pressure: a peer that sends Invokes but does
// not read is throttled, never disconnected). WindowUpdates are coalesced per stream, not queued.
inline constexpr size_t kControlQueueMaxCount = 1024;
inline constexpr size_t kControlQueueMaxBytes = 256 * kKiB;

// --- Mux flow control (Options::flow; the wire limits are in proto/limits.h) ---------------------
// The longest a flow-controlled sender waits for credit (each grant restarts the wait) before its
// stream fails with kResourceExhausted naming the likely cause: a peer without flow control (a
// mismatched configuration) or an application that stopped reading (Options::credit_stall_timeout).
inline constexpr Duration kCreditStallTimeoutDefault = Duration::Seconds(30);
inline constexpr Duration kCreditStallTimeoutMin = Duration::Micros(50);
inline constexpr Duration kCreditStallTimeoutMax = Duration::Seconds(3600);
// Messages queued on one flow-controlled stream. Flow control bounds their bytes but not their
// number (an empty message costs no credit); beyond this the stream fails with kResourceExhausted
// ("receive queue cap exceeded") instead of making the connection's reader wait.
inline constexpr size_t kRecvQueueFlowMaxCount = 16 * 1024;

// --- Per-stream table nodes (proto/base/id_map.h) -----------------------------------------------
// A mux connection keeps per-stream state in tables by stream ID (the mux writer's queues, the mux
// reader's streams and pending Invokes, the mux assembler's state); each keeps up to this many
// erased nodes for the next streams, so a connection running one call after another allocates no map
// node per call. A few hundred bytes each, per map and connection.
inline constexpr size_t kStreamNodeSpareMaxCount = 8;
// A server keeps up to this many records of mux calls on their way to their handler fibers for
// the next calls (one allocation fewer per call); a record is a few pointers and an empty stream
// handle.
inline constexpr size_t kMuxCallSpareMaxCount = 8;
// A mux writer keeps up to this many records of written packets for the next ones (a unary call
// queues four on the client: metadata, Invoke, message, CloseSend), each with its copy buffer if
// that is at most kMuxPacketSpareKeepMaxBytes: so a connection running one small call after
// another allocates neither records nor copies. At most a few KiB per connection.
inline constexpr size_t kMuxPacketSpareMaxCount = 8;
inline constexpr size_t kMuxPacketSpareKeepMaxBytes = 256;

// --- Buffer pool (one per connection, impl/buffer_pool.h) ----------------------------------------
// Message buffers handed back by the application (Stream::RecvInto) or dropped with a stream are
// kept for the next packet's assembly, up to these bounds; a larger buffer is freed instead.
inline constexpr size_t kBufferPoolMaxCount = 64;
inline constexpr size_t kBufferPoolMaxBytes = 4 * kMiB;
// 1 MiB: a stream of 1 MiB messages reuses its buffers instead of allocating (and growing, by
// copying) a fresh one per message; the total stays bounded by kBufferPoolMaxBytes.
inline constexpr size_t kBufferPoolBufferMaxBytes = 1 * kMiB;

// --- Server (impl/server.h, impl/runtime/tcp_server.h) -------------------------------------------
// Connections a server serves at once (a TcpServer: across all its reactors); beyond it a new
// connection is closed at once (Options::connections_max_count).
inline constexpr size_t kConnectionsDefaultMaxCount = 10'000;
inline constexpr size_t kConnectionsLimitMaxCount = 1 << 20;
// After a temporary accept error (out of descriptors or memory) accepting pauses, the pause
// doubling from min to max: never a busy loop, and quick to pick up once the condition clears.
// Go's drpcserver sleeps 500 ms each time.
inline constexpr Duration kAcceptBackoffMin = Duration::Millis(5);
inline constexpr Duration kAcceptBackoffMax = Duration::Millis(500);

// --- Production runtime (impl/runtime/) ----------------------------------------------------------
// Connections the kernel queues before Accept takes them (capped by net.core.somaxconn).
inline constexpr int kListenBacklogDefaultCount = 128;
// The longest a dial may take (DialOptions::timeout).
inline constexpr Duration kDialTimeoutDefault = Duration::Seconds(10);
// The longest a server waits for a client's drpcmigrate header ("DRPC!!!1") before closing it.
inline constexpr Duration kMigrateHeaderTimeoutDefault = Duration::Seconds(10);

// --- Fibers and calls: what a server holds at once (impl/fiber, impl/runtime, impl/server) ----------
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
// A production reactor wakes the reader of a socket it just wrote to on a guess (a recv before
// epoll_wait, see impl/runtime/reactor.h ExpectInput); a socket whose guesses keep finding nothing
// is guessed at most once per this many writes (plus one).
inline constexpr uint8_t kReadGuessBackoffMaxCount = 64;
// A production reactor gives back the stack pages below where a fiber waits once it has been
// parked this long (at most twice this), so an idle connection's fibers keep only the pages they
// wait in, not those a call once touched. A fiber that parks and wakes within it is never trimmed.
inline constexpr Duration kFiberStackTrimIdleDelay = Duration::Millis(100);
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

// --- Buffered bytes: what a connection and a server hold for their peers (impl/buffer_budget.h) --
// Sized for the smallest machine class drpc-cpp is tuned on (2 cores, 24 GiB).
//
// One connection, over all its streams: received messages waiting for the application, frames
// and packets being assembled, metadata waiting for its Invoke, writer copies. At the budget the
// connection's reader stops reading, so the peer's writes back up (TCP back-pressure); when
// nothing is released for recv_stall_timeout — or at once, when what it holds can only be
// completed by reading on — the stream holding the most fails (kResourceExhausted, the peer is
// told) and reading resumes. 16 MiB: a largest default message arriving in largest frames (one
// read, the frame, the packet being assembled) fits twice over; sixteen 1 MiB windows.
// Message size: without flow control Options::Validate requires room for a largest message
// (packet_max_bytes) in largest frames plus a read; with the fork's flow control a message may be
// larger than the budget (flow.message_max_bytes, 64 MiB) and then fails its own stream at once,
// the error naming both limits — the reader never stalls on one message.
inline constexpr size_t kConnectionBufferedDefaultMaxBytes = 16 * kMiB;
inline constexpr size_t kConnectionBufferedLimitMaxBytes = size_t{64} << 30;
// What each connection may hold whatever the server budget says: a connection under this never
// stops reading, so small calls on it stay served while others hold the server's budget.
inline constexpr size_t kConnectionBufferedReservedDefaultBytes = 256 * kKiB;
// Every connection of a server together, beyond each one's reservation (a TcpServer: across all
// its reactors). A sixth of the machine class's memory; the rest is for fiber stacks, the heap
// and the kernel's socket buffers.
inline constexpr size_t kServerBufferedDefaultMaxBytes = size_t{4} << 30;
inline constexpr size_t kServerBufferedLimitMaxBytes = size_t{1} << 44;
// A reader stopped by the server budget looks again this often (other reactors release bytes
// without waking it).
inline constexpr Duration kBufferRoomPoll = Duration::Millis(5);

// --- Timeouts of a connection (impl/manager.cc; all on the Env clock) ----------------------------
// Server: a new connection must deliver its first complete frame within this, or it is closed
// (a peer that connects and sends nothing, or dribbles a header, holds a connection slot).
inline constexpr Duration kFirstFrameTimeoutDefault = Duration::Seconds(10);
// A frame whose first bytes arrived must be complete within this (both roles): a frame that
// stops one byte short is not held for ever. A default 64 KiB frame at 20 kB/s takes 3 s.
inline constexpr Duration kFrameTimeoutDefault = Duration::Seconds(30);
// Server: a connection with no call running that receives no Invoke for this long is closed
// (Options::inactivity_timeout, Go's InactivityTimeout).
inline constexpr Duration kInactivityTimeoutDefault = Duration::Seconds(300);
// Server: after the client half-closed (read EOF), calls that had received everything may still
// write their replies for this long; calls still expecting messages end at once.
inline constexpr Duration kHalfCloseGraceDefault = Duration::Seconds(2);
inline constexpr Duration kConnectionTimeoutMin = Duration::Millis(1);

// --- Over the connection limit (impl/server.h, impl/runtime/tcp_server.h) -----------------------
// A connection over connections_max_count is told why where the mode allows: its first Invokes
// are answered with an Error ("server busy: ...") before it is closed. At most this many such
// connections are answered at once (each costs a connection's fibers for a moment); more are
// closed at once.
inline constexpr size_t kConnectionsRefusingMaxCount = 64;
// How long a refused connection is read for its first Invoke before it is closed regardless.
inline constexpr Duration kRefusalReadTimeout = Duration::Seconds(1);

// --- Memory given back (impl/manager.cc, impl/buffer_pool.h, impl/runtime) -----------------------
// A connection's reader that finds its frame buffer empty keeps at most this much of it; a
// larger buffer (grown for a large frame or a bulk read) is released.
inline constexpr size_t kParserKeepMaxBytes = 64 * kKiB;
// A connection idle for kMemoryReturnIdleDelay (its reader waits for bytes with nothing held:
// no frame or packet being assembled, no message queued, no writer copy) trims what it kept for
// bursts: its buffer pool down to this much, its writer's buffer down to its default size.
inline constexpr size_t kBufferPoolIdleKeepMaxBytes = 64 * kKiB;
inline constexpr Duration kMemoryReturnIdleDelay = Duration::Millis(100);
// Then, if the connection released at least this much since it last did (large messages freed,
// pooled and parser buffers released), it asks the Env to give the allocator's cache back to the
// system (Env::memory(): malloc_trim in production). So a burst ends with one request per
// connection that carried it, and a connection of small messages never makes one.
inline constexpr size_t kMemoryReturnMinBytes = 1 * kMiB;
// At most one allocator trim per this interval per Env (per reactor in production), however many
// connections ask (a trim walks the whole heap); a request inside it schedules one trim at its
// end (impl/trim_throttle.h).
inline constexpr Duration kMemoryReturnMinInterval = Duration::Millis(500);

// --- Fairness: one fiber's turn (impl/runtime reactors, impl/ connection readers) ------------------
// A fiber whose socket never says "would block" (a peer that keeps up) would otherwise run on and
// starve every other connection, the acceptor and the timers of its reactor. A production fiber
// yields once its turn has moved this many bytes through sockets, or has lasted this long (checked
// at each socket operation); the reactor then runs the other fibers, fires due timers and polls.
inline constexpr size_t kTurnIoMaxBytes = 256 * kKiB;
inline constexpr Duration kTurnMax = Duration::Millis(1);
// A connection's reader yields after handling this many frames without waiting for the socket
// (one large read of tiny frames), in both runtimes.
inline constexpr size_t kTurnFramesMaxCount = 1024;

static_assert(kRecvQueueDefaultMaxCount <= kRecvQueueLimitMaxCount);
static_assert(kRecvQueueDefaultMaxBytes <= limits::kPacketLimitMaxBytes);
static_assert(kRecvStallTimeoutMin <= kRecvStallTimeoutDefault &&
              kRecvStallTimeoutDefault <= kRecvStallTimeoutMax);
static_assert(kReadMinBytes <= kReadMaxBytes);
static_assert(kReadIdleBytes <= kReadMinBytes);
static_assert(kReadAfterDirectBytes >= limits::kFrameHeaderMaxBytes,
              "the read after a direct frame holds at least a frame header");
static_assert(kReadAfterDirectBytes < kReadDirectMinBytes,
              "what the read after a direct frame copies is small next to a direct frame");
static_assert(kReadIdleBytes >= limits::kFrameHeaderMaxBytes,
              "an idle read holds at least a frame header");
static_assert(kReadMinBytes >= limits::kFrameHeaderMaxBytes,
              "one read holds at least a frame header");
static_assert(kWriteBufferDefaultBytes <= kWriteBufferKeepMaxBytes,
              "a write buffer of the default size is kept");
static_assert(kWriteBufferDefaultBytes <= limits::kPacketLimitMaxBytes);
static_assert(kGatherWriteMinBytes <= kWriteBufferKeepMaxBytes,
              "packets too small to gather fit a buffer that is kept");
static_assert(kWriteBatchDefaultMaxBytes <= kWriteBatchKeepMaxBytes,
              "a batch buffer of the default size is kept");
static_assert(kWriteBatchDefaultMaxBytes <= limits::kPacketLimitMaxBytes);
static_assert(kGatherFrameMinBytes <= limits::kSplitDefaultBytes,
              "frames of the default split size are gathered, not copied");
static_assert(kGatherFrameMinBytes >= limits::kFrameHeaderMaxBytes * 64,
              "a gathered frame is much larger than the header piece next to it");
static_assert(kUnflushedCopyMaxBytes <= kWriteBatchDefaultMaxBytes);
static_assert(limits::kErrorCodeBytes + limits::kErrorTextMaxBytes + limits::kFrameHeaderMaxBytes <=
                  kControlQueueMaxBytes,
              "the control queue holds at least one largest Error frame");
static_assert(limits::kGrpcErrorBodyMaxBytes + limits::kFrameHeaderMaxBytes <= kControlQueueMaxBytes,
              "the control queue holds at least one largest fork-format Error frame");
static_assert(kCreditStallTimeoutMin <= kCreditStallTimeoutDefault &&
              kCreditStallTimeoutDefault <= kCreditStallTimeoutMax);
static_assert(kRecvQueueDefaultMaxCount <= kRecvQueueFlowMaxCount,
              "a flow-controlled stream queues at least what one without flow control does");
static_assert(kBufferPoolBufferMaxBytes <= kBufferPoolMaxBytes);
static_assert(kConnectionsDefaultMaxCount <= kConnectionsLimitMaxCount);
static_assert(Duration::Zero() < kAcceptBackoffMin && kAcceptBackoffMin <= kAcceptBackoffMax);

static_assert(kFiberStacksDefaultMaxCount / kFiberSlabStackCount <= kFiberMapsDefaultMaxCount,
              "with page-table guards the stack budget is reached before the map budget");
static_assert(2 * kFiberMapsDefaultMaxCount <= kKernelMapsDefaultMaxCount / 2,
              "two reactors' stacks take at most half the kernel's maps");
static_assert(kFiberStacksCachedDefaultMaxCount <= kFiberStacksDefaultMaxCount);
static_assert(kServerCallsDefaultMaxCount < kFiberStacksDefaultMaxCount,
              "a server whose calls all run on one reactor leaves stacks for connection fibers");
static_assert(kServerCallsDefaultMaxCount <= kServerCallsLimitMaxCount);
static_assert(kConnectionBufferedDefaultMaxBytes >=
                  2 * limits::kPacketDefaultMaxBytes + kReadMaxBytes,
              "a largest default message in largest frames fits a connection's buffer budget");
static_assert(kConnectionBufferedReservedDefaultBytes <= kConnectionBufferedDefaultMaxBytes);
static_assert(kConnectionBufferedReservedDefaultBytes >= kReadMinBytes,
              "a connection under its reservation can always take one ordinary read");
static_assert(kConnectionBufferedDefaultMaxBytes <= kServerBufferedDefaultMaxBytes);
static_assert(kServerBufferedDefaultMaxBytes <= kServerBufferedLimitMaxBytes);
static_assert(kConnectionBufferedLimitMaxBytes <= kServerBufferedLimitMaxBytes);
static_assert(kConnectionTimeoutMin <= kFirstFrameTimeoutDefault &&
              kConnectionTimeoutMin <= kFrameTimeoutDefault &&
              kConnectionTimeoutMin <= kHalfCloseGraceDefault);
static_assert(kFirstFrameTimeoutDefault <= kInactivityTimeoutDefault,
              "a connection is given its first frame before it counts as idle");
static_assert(kRefusalReadTimeout <= kFirstFrameTimeoutDefault);
static_assert(kParserKeepMaxBytes >= kReadMinBytes, "an ordinary read fits the kept buffer");
static_assert(kBufferPoolIdleKeepMaxBytes <= kBufferPoolMaxBytes);
static_assert(kBufferPoolIdleKeepMaxBytes < kMemoryReturnMinBytes,
              "a connection that keeps only its idle pool never asks for a trim");
static_assert(Duration::Zero() < kMemoryReturnIdleDelay &&
              kMemoryReturnIdleDelay <= kMemoryReturnMinInterval);
static_assert(kTurnIoMaxBytes >= kReadMinBytes, "a turn holds at least one ordinary read");
static_assert(kTurnFramesMaxCount * limits::kFrameMinBytes <= kReadMaxBytes,
              "one maximal read of minimal frames takes several turns");

}  // namespace drpc::tunables

#endif  // DRPC_IMPL_TUNABLES_H_
