// Every tunable of a drpc-cpp connection (client Conn or server connection), with its default and
// legal range from proto/limits.h. Both peers of a connection must agree on `mux` (nothing on the
// wire negotiates it); everything else is local.
//
//   Options o;                      // upstream-compatible defaults: talks to Go drpc
//   o.mux = true;                   // opt-in multiplexing (cockroachdb/drpc semantics)
//   DRPC_CHECK_OK(o.Validate());
#ifndef DRPC_IMPL_OPTIONS_H_
#define DRPC_IMPL_OPTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "impl/time.h"
#include "proto/limits.h"

namespace drpc {

struct Options {
  // --- Mode ---------------------------------------------------------------------------------------
  // false: upstream storj/drpc semantics (one stream at a time, global monotonic IDs) — a Go drpc
  // peer interoperates. true: concurrent streams on one transport (spec §11).
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
  size_t write_buffer_bytes = 4096;
  // Mux writer: frames of ready streams are gathered into one transport write up to this size.
  size_t write_batch_bytes = 64 * limits::kKiB;

  // --- Receive buffering --------------------------------------------------------------------------
  // Messages queued per stream before the reader waits for the application (streams without flow
  // control; flow-controlled streams are bounded by their window instead).
  size_t recv_queue_max_count = limits::kRecvQueueDefaultMaxCount;
  // Bytes queued per stream before the reader waits (streams without flow control).
  size_t recv_queue_max_bytes = limits::kPacketDefaultMaxBytes;

  // --- Mux flow control (spec §11.7) ---------------------------------------------------------------
  // Per-stream flow control with WindowUpdate packets. A mux client announces it in each stream's
  // metadata (key kFlowWindowMetadataKey); a mux server uses it for streams that announce it, so
  // upstream clients (which never announce) still work against a mux server.
  bool flow_control = true;
  // Bytes of Message data a peer may send on one stream before we grant more.
  uint64_t window_bytes = limits::kWindowDefaultBytes;
  // The window each side assumes for the other before any WindowUpdate: both peers must agree.
  uint64_t initial_window_bytes = 64 * limits::kKiB;

  // --- Streams (mux) ------------------------------------------------------------------------------
  // Concurrent streams a mux server serves on one connection; more are refused with an Error.
  size_t max_concurrent_streams = limits::kStreamsDefaultMaxCount;
  // Streams whose InvokeMetadata arrived but whose Invoke has not (bounds a hostile client).
  size_t pending_invokes_max = limits::kPendingInvokesDefaultMaxCount;

  // --- Time ---------------------------------------------------------------------------------------
  // Server: the longest a connection may wait for its next Invoke (Go's InactivityTimeout);
  // Infinite = no limit.
  Duration inactivity_timeout = Duration::Infinite();

  // kInvalidArgument naming the first field outside its range.
  absl::Status Validate() const;
};

// Metadata key by which a flow-controlled mux client announces its receive window for a stream.
inline constexpr char kFlowWindowMetadataKey[] = "drpc-flow-window";

}  // namespace drpc

#endif  // DRPC_IMPL_OPTIONS_H_
