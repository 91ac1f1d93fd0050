// Every tunable of a drpc-cpp connection (client Conn or server connection), with its default and
// legal range from proto/limits.h (wire limits) and impl/tunables.h (buffers and I/O). Both peers
// of a connection must agree on `mux` and `window_initial_bytes` (nothing on the wire negotiates
// them); everything else is local. Field names put the unit last (`_bytes`, `_count`) after the
// qualifier (`packet_max_bytes`), as proto/limits.h does.
//
//   Options o;                      // upstream-compatible defaults: talks to Go drpc
//   o.mux = true;                   // opt-in multiplexing (cockroachdb/drpc semantics)
//   DRPC_CHECK_OK(o.Validate());
#ifndef DRPC_IMPL_OPTIONS_H_
#define DRPC_IMPL_OPTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "impl/observer.h"
#include "impl/time.h"
#include "impl/tunables.h"
#include "proto/limits.h"

namespace drpc {

struct Options {
  // --- Mode ---------------------------------------------------------------------------------------
  // false: upstream storj/drpc semantics (one stream at a time, global monotonic IDs) — a Go drpc
  // peer interoperates. true: concurrent streams on one transport (docs/protocol.md §11).
  bool mux = false;

  // Upstream mode: cancelling an active call sends a Cancel packet and keeps the connection
  // (Go's SoftCancel). false (Go's default): the connection is closed. Mux mode always soft-cancels.
  bool soft_cancel = false;

  // --- Framing ------------------------------------------------------------------------------------
  // Largest data per frame we send for Invoke/InvokeMetadata/Message [kSplitMinBytes, kSplitMaxBytes].
  size_t split_bytes = limits::kSplitDefaultBytes;
  // Largest packet (message, RPC name, metadata, error) we accept: Go's MaximumBufferSize. In mux
  // mode it is the per-stream maximum message size and a larger message fails only its stream.
  // [kPacketLimitMinBytes, kPacketLimitMaxBytes].
  size_t packet_max_bytes = limits::kPacketDefaultMaxBytes;
  // Upstream writer: buffered frames go out once this many bytes accumulate (or on flush).
  size_t write_buffer_bytes = tunables::kWriteBufferDefaultBytes;
  // Mux writer: frames of ready streams are gathered into one transport write up to this size.
  size_t write_batch_max_bytes = tunables::kWriteBatchDefaultMaxBytes;

  // --- Receive buffering --------------------------------------------------------------------------
  // Messages queued per stream before the reader waits for the application (streams without flow
  // control; flow-controlled streams are bounded by their window instead).
  size_t recv_queue_max_count = tunables::kRecvQueueDefaultMaxCount;
  // Bytes queued per stream before the reader waits (streams without flow control).
  size_t recv_queue_max_bytes = tunables::kRecvQueueDefaultMaxBytes;
  // The longest the connection's reader waits for space in one stream's full queue. Then that
  // stream fails with kResourceExhausted "receive queue full for <d>: the application is not
  // reading stream <id>", the peer is told (a server sends an Error; a client cancels: a Cancel
  // packet in mux mode and with soft_cancel, else the connection is closed), later packets of the
  // stream are dropped, and the reader goes on. An application that keeps taking messages, however
  // slowly, is never failed: each message it takes ends the wait.
  // [kRecvStallTimeoutMin, kRecvStallTimeoutMax].
  Duration recv_stall_timeout = tunables::kRecvStallTimeoutDefault;

  // --- Mux flow control (docs/protocol.md §11.7) ---------------------------------------------------------------
  // Flow control is the client's choice, per stream. With flow_control a mux client announces its
  // receive window in each stream's metadata (key kFlowWindowMetadataKey) and that stream is then
  // flow-controlled in both directions. A mux server always honours an announced window, whatever
  // its own flow_control says (the field only matters for clients), and serves streams that
  // announce none (upstream clients, mux clients without flow control) with bounded queues.
  bool flow_control = true;
  // Bytes of Message data a peer may send on one stream before we grant more.
  uint64_t window_bytes = limits::kWindowDefaultBytes;
  // The window each side assumes for the other before any WindowUpdate: both peers must agree.
  uint64_t window_initial_bytes = limits::kWindowInitialBytes;

  // --- Streams (mux) ------------------------------------------------------------------------------
  // Concurrent streams a mux server serves on one connection; more are refused with an Error.
  size_t concurrent_streams_max_count = limits::kStreamsDefaultMaxCount;
  // Streams whose InvokeMetadata arrived but whose Invoke has not (bounds a hostile client).
  size_t pending_invokes_max_count = limits::kPendingInvokesDefaultMaxCount;

  // --- Server -------------------------------------------------------------------------------------
  // Connections a server serves at once — a Server (impl/server.h), or a TcpServer across all its
  // reactors; a connection beyond it is closed at once (reported to the server's error observer,
  // counted in TcpServer::Stats::connections_refused). [1, kConnectionsLimitMaxCount].
  size_t connections_max_count = tunables::kConnectionsDefaultMaxCount;
  // Calls a Server runs at once across all its connections (impl/call_budget.h; a TcpServer's
  // Servers on every reactor share one budget of this size). Beyond it a new call is refused with
  // kResourceExhausted "server busy: ..." and the connection goes on. Upstream calls count as
  // well as mux calls. [1, kServerCallsLimitMaxCount].
  size_t server_calls_max_count = tunables::kServerCallsDefaultMaxCount;

  // --- Buffered bytes (impl/buffer_budget.h) ------------------------------------------------------
  // What one connection may hold for its peer over all its streams: received messages not yet
  // taken by the application, frames and packets being assembled, metadata waiting for its
  // Invoke, writer copies. At the budget its reader stops reading (the peer's writes back up);
  // if nothing is released for recv_stall_timeout, or what is held can only be completed by
  // reading on, the stream holding the most fails with kResourceExhausted "connection buffer
  // budget ..." (the peer is told) and reading resumes. A server also refuses new calls on a
  // connection at its budget ("server busy: ..."). At least 2 * max(packet_max_bytes, 4 MiB) +
  // 1 MiB (a largest message in largest frames must fit); at most kConnectionBufferedLimitMaxBytes.
  size_t connection_buffered_max_bytes = tunables::kConnectionBufferedDefaultMaxBytes;
  // Server: bytes a connection may hold whatever server_buffered_max_bytes says, so a connection
  // holding little keeps being served while others hold the server's budget. At most
  // connection_buffered_max_bytes.
  size_t connection_buffered_reserved_bytes = tunables::kConnectionBufferedReservedDefaultBytes;
  // Server: what all its connections (a TcpServer: on every reactor) may hold together beyond
  // their reservations. When it is spent, connections holding more than their reservation stop
  // reading and new calls on them are refused ("server busy: ..."). [1, kServerBufferedLimitMaxBytes].
  size_t server_buffered_max_bytes = tunables::kServerBufferedDefaultMaxBytes;

  // --- Time (all on the Env clock; each at least kConnectionTimeoutMin) ----------------------------
  // Server: a connection must deliver its first complete frame within this, or it is closed.
  // Infinite = no limit.
  Duration first_frame_timeout = tunables::kFirstFrameTimeoutDefault;
  // A frame whose first bytes arrived must be complete within this, or the connection is closed
  // (both roles). Infinite = no limit.
  Duration frame_timeout = tunables::kFrameTimeoutDefault;
  // Server: the longest a connection with no call running may wait for its next Invoke (Go's
  // InactivityTimeout); then it is closed. Infinite = no limit.
  Duration inactivity_timeout = tunables::kInactivityTimeoutDefault;
  // Server: after the client half-closed its side (read EOF), calls whose client had finished
  // sending may still write their replies for this long before the connection closes; calls
  // still expecting messages end at once (their handlers see a cancelled context). Both modes.
  Duration half_close_grace = tunables::kHalfCloseGraceDefault;

  // --- Observation --------------------------------------------------------------------------------
  // Receives the connection's events (impl/observer.h) for metrics; null: none. Not owned; must
  // outlive every connection made with these options.
  ConnectionObserver* observer = nullptr;

  // kInvalidArgument naming the first field outside its range.
  absl::Status Validate() const;

 private:
  absl::Status ValidateBuffered() const;
};

// Metadata key by which a flow-controlled mux client announces its receive window for a stream.
inline constexpr char kFlowWindowMetadataKey[] = "drpc-flow-window";

}  // namespace drpc

#endif  // DRPC_IMPL_OPTIONS_H_
