// Every tunable of a drpc-cpp connection (client Conn or server connection), with its default and
// legal range from proto/limits.h (wire limits) and impl/tunables.h (buffers and I/O). Both peers
// of a connection must agree on `mux`, the Error body format and `flow` (nothing on the wire
// negotiates them); everything else is local. Field names put the unit last (`_bytes`, `_count`)
// after the qualifier (`packet_max_bytes`), as proto/limits.h does.
//
//   Options o;                      // upstream-compatible defaults: talks to Go drpc
//   o.mux = true;                   // opt-in multiplexing (cockroachdb/drpc semantics)
//   o.flow.enabled = true;          // the fork's flow control, 2 MiB / 512 KiB / 64 MiB
//   DRPC_CHECK_OK(o.Validate());
//
//   Options fork = Options::ForkDefaults();   // all of that: what a cockroachdb/drpc peer expects
#ifndef DRPC_IMPL_OPTIONS_H_
#define DRPC_IMPL_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "impl/observer.h"
#include "impl/time.h"
#include "impl/tunables.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
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
  // 64 KiB is Go's. For bulk transfer raise it (e.g. 1 MiB: a peer whose frame limit is Go's
  // default of 4 MiB accepts it): a drpc-cpp receiver reads a frame with at least 128 KiB to come
  // straight into the message, without the copy smaller frames take (BENCHMARKS.md).
  size_t split_bytes = limits::kSplitDefaultBytes;
  // Largest packet (message, RPC name, metadata, error) we accept: Go's MaximumBufferSize. In mux
  // mode (without flow control) it is the per-stream maximum message size and a larger message
  // fails only its stream, whatever its framing.
  // [kPacketLimitMinBytes, kPacketLimitMaxBytes].
  size_t packet_max_bytes = limits::kPacketDefaultMaxBytes;
  // Upstream writer: buffered frames go out once this many bytes accumulate (or on flush).
  size_t write_buffer_bytes = tunables::kWriteBufferDefaultBytes;
  // Mux writer: frames of ready streams are gathered into one transport write up to this size.
  size_t write_batch_max_bytes = tunables::kWriteBatchDefaultMaxBytes;

  // --- Receive buffering --------------------------------------------------------------------------
  // Messages queued per stream before the reader waits for the application (streams without flow
  // control; a flow-controlled stream is bounded by its window and tunables::kRecvQueueFlowMaxCount
  // instead, and never makes the reader wait).
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

  // --- Error bodies (docs/protocol.md §6.1, §16) -----------------------------------------------------
  // How Error packets are encoded and decoded: kUpstream (Go storj/drpc: 8-byte code + text) or
  // kGrpcStatus (the cockroachdb/drpc fork: 0x01 + google.rpc.Status; DRPC codes travel as gRPC
  // codes, impl/error_body.h). Unset: by mode — upstream mode kUpstream, mux mode kGrpcStatus.
  // Both ends must agree: set it for an upstream-mode client of a mux server (kGrpcStatus), or for
  // a mux server whose clients are Go upstream clients (kUpstream).
  std::optional<ErrorFormat> error_format;
  ErrorFormat ErrorFormatOrDefault() const {
    return error_format.value_or(mux ? ErrorFormat::kGrpcStatus : ErrorFormat::kUpstream);
  }

  // --- Mux flow control (docs/protocol.md §17) ---------------------------------------------------------
  // The fork's per-stream credit, a static configuration of the whole connection: nothing is
  // negotiated, so both ends must be configured alike (docs/protocol.md §17.5 says what each
  // mismatch does). Off by default, as in the fork; on, a stream's sender starts with
  // `stream_window_bytes` of credit, waits only at message boundaries (a message, once started,
  // goes out whole) and is granted what the peer's application consumed, in WindowUpdates of at
  // least `grant_threshold_bytes`. Valid when F = min(message_max_bytes, split_bytes) <=
  // stream_window_bytes and grant_threshold_bytes <= stream_window_bytes - F (liveness).
  struct FlowControl {
    bool enabled = false;
    uint64_t stream_window_bytes = limits::kStreamWindowDefaultBytes;
    uint64_t grant_threshold_bytes = limits::kGrantThresholdDefaultBytes;
    // The largest message (wire bytes, after compression) a stream sends or receives while flow
    // control is on; it replaces packet_max_bytes for mux streams then. A receive queue holds at
    // most stream_window_bytes + message_max_bytes. [kPacketLimitMinBytes, kPacketLimitMaxBytes].
    uint64_t message_max_bytes = limits::kFlowMessageDefaultMaxBytes;
  };
  FlowControl flow;
  // A flow-controlled sender waiting this long for credit (each grant restarts the wait) fails its
  // stream with kResourceExhausted naming the likely cause (the peer runs without flow control, or
  // its application stopped reading); the peer is told. [kCreditStallTimeoutMin, ...Max].
  Duration credit_stall_timeout = tunables::kCreditStallTimeoutDefault;

  // --- Compression (mux, docs/protocol.md §19) --------------------------------------------------------
  // Client: asks the server to compress every stream's messages, both ways (metadata key
  // drpc-compression). kNone also strips a caller-supplied drpc-compression key. A mux server
  // honours whatever a stream asks for, whatever this field says.
  Compression compression = Compression::kNone;

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
  // connection at its budget ("server busy: ..."). At least max(packet_max_bytes, 4 MiB) +
  // packet_max_bytes + 1 MiB (a largest message in largest frames must fit); at most
  // kConnectionBufferedLimitMaxBytes. With mux flow control a message (flow.message_max_bytes)
  // may exceed it: such a message fails its stream at once, the error naming both limits.
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

  // Mux streams: the largest message sent or received (flow.message_max_bytes with flow control
  // on, else packet_max_bytes).
  size_t MuxMessageMaxBytes() const {
    return flow.enabled ? static_cast<size_t>(flow.message_max_bytes) : packet_max_bytes;
  }

  // Mux mode as a cockroachdb/drpc peer expects it by default (docs/protocol.md §17.8): flow control
  // on with the fork's sizes and gRPC-status Error bodies.
  static Options ForkDefaults();

 private:
  absl::Status CheckFlowLiveness() const;
  absl::Status ValidateBuffered() const;
};

}  // namespace drpc

#endif  // DRPC_IMPL_OPTIONS_H_
