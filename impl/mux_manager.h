// MuxManager: opt-in multiplexing — many concurrent streams on one transport, speaking the wire
// of the cockroachdb/drpc fork (docs/protocol.md §11, §14–§19).
//   * Reading is per frame: each stream has its own assembler (split frames of different streams
//     interleave freely) and its own bounded receive queue. WindowUpdates are taken before any
//     message-ID check; malformed ones are dropped.
//   * Writing goes through the MuxWriter: fair interleaving of ready streams, metadata + Invoke
//     queued atomically, terminal packets ahead of queued data.
//   * Cancelling a stream always soft-cancels (a Cancel packet) and never touches other streams.
//   * Errors are connection-scoped (transport read/write error, malformed frames, protocol errors,
//     Close) or stream-scoped (application errors, remote Close/CloseSend/Cancel/Error, a message
//     over the limit whatever its framing, a receive queue over its cap or stalled, a sender
//     stalled for credit), exactly as docs/protocol.md §15.4. A stream-scoped failure found here is
//     answered with an abortive Error (control bit, docs/protocol.md §16.2) in the connection's
//     Error body format (Options::ErrorFormatOrDefault).
//   * Flow control (impl/mux_flow.cc) is the fork's, a static setting of the connection
//     (Options::flow): nothing is negotiated. On, each stream's sender starts with the window as
//     credit, waits only at message boundaries and may overdraw to finish a message; the receiver
//     grants what its application consumed (and what an abandoned partial message held) in
//     WindowUpdates of at least the grant threshold, and fails a stream whose queue goes over
//     window + largest message. A sender that waits credit_stall_timeout for credit fails its
//     stream with an error naming the likely cause. Off, no WindowUpdate is ever sent and received
//     ones are dropped; streams use bounded queues with the receive-stall policy of impl/stream.h.
//   * A server accepts stream IDs in any order and an ID again once its stream finished. An Invoke
//     it will not serve is answered with an Error on message ID 1 and the connection stays: over
//     concurrent_streams_max_count (the fork's MaxStreams text, kResourceExhausted for the caller),
//     during shutdown, over pending_invokes_max_count, a message too large, an unknown
//     drpc-compression. Such Errors wait in the writer's bounded control queue; when it is full
//     the reader waits for the writer (back-pressure throttles a peer that does not read).
//   * A Cancel for a stream whose metadata arrived but whose Invoke has not: the stream never runs
//     (its Invoke is answered with Canceled). A Cancel for a stream the server does not have is
//     dropped. Our clients never send either: a Cancel queued while the stream's metadata and
//     Invoke are still queued sends nothing at all.
//   * Compression (docs/protocol.md §19): a client asks with Options::compression; a server honours
//     the drpc-compression key of each stream.
#ifndef DRPC_IMPL_MUX_MANAGER_H_
#define DRPC_IMPL_MUX_MANAGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "impl/manager.h"
#include "impl/mux_writer.h"
#include "proto/base/id_map.h"
#include "proto/metadata.h"
#include "proto/packet.h"

namespace drpc {

class MuxManager final : public Manager {
 public:
  // The connection's writer (observability, tests).
  const MuxWriter& writer() const { return writer_; }
  // `options` must be valid and select mux mode; use CreateManager (impl/manager_factory.h).
  MuxManager(Env& env, std::unique_ptr<Transport> transport, Role role, const Options& options);
  ~MuxManager() override;

  void RefuseStream(Stream& stream, const absl::Status& reason) override {
    FailStream(stream, reason, /*abortive=*/false);
    stream.StopReceiving();
  }

  Usage usage() const override {
    size_t queued = 0;
    streams_.ForEach(
        [&queued](uint64_t, const StreamState& s) { queued += s.stream->queued_bytes(); });
    return Usage{.streams = streams_.size(), .pending_invokes = pending_.size(),
                 .queued_writes = writer_.streams(), .queued_bytes = queued,
                 .pooled_bytes = buffer_pool().free_bytes(),
                 .buffered_bytes = buffers().held_bytes()};
  }

  // Observability (tests, leak checks).
  size_t active_streams() const { return streams_.size(); }
  size_t pending_invokes() const { return pending_.size(); }

 private:
  struct StreamState {
    std::shared_ptr<Stream> stream;
    // Flow control, receiving (impl/mux_flow.cc). Every Message byte received is in exactly one
    // place: the message in assembly, the stream's queue, grant_pending or granted_bytes.
    uint64_t assembling_message = 0;  // message ID of a partly received Message (0: none)
    uint64_t assembling_bytes = 0;    // its bytes so far
    uint64_t grant_pending = 0;       // consumed (or discarded), not yet granted
    uint64_t received_bytes = 0;      // Message bytes taken from the wire
    uint64_t granted_bytes = 0;       // bytes in WindowUpdates written
  };
  // A stream whose InvokeMetadata (or part of its Invoke) arrived before its whole Invoke.
  struct PendingInvoke {
    enum class State : uint8_t {
      kAssembling,  // being assembled (counts against pending_invokes_max_count)
      kCancelled,   // a Cancel came first: its Invoke is answered with Canceled
      kRefused,     // already answered with an Error: its frames are dropped
    };
    State state = State::kAssembling;
    Metadata metadata;
    size_t bytes = 0;  // metadata's encoded size, counted in the connection's buffers
  };

  // Manager.
  absl::StatusOr<std::shared_ptr<Stream>> OpenClientStream(CallContext& ctx,
                                                           absl::string_view rpc,
                                                           std::string metadata) override;
  // Adds (or strips) drpc-compression as Options::compression says.
  std::string EncodeInvokeMetadata(const Metadata& metadata) override;
  absl::Status Start() override;
  absl::Status OnFrame(const Frame& frame) override;
  // Only the Messages of a live stream: everything else is small or dropped.
  std::optional<std::string> LendFrameBuffer(const Frame& head, size_t data_bytes) override;
  void UnlendFrameBuffer(std::string buffer) override { assembler_.Unlend(std::move(buffer)); }
  // Fails the accepted-but-queued stream: an Error to the client.
  void Refuse(const std::shared_ptr<Stream>& stream) override;
  // Soft cancel, always (a Cancel ahead of the stream's queued data).
  void OnContextDone(const std::shared_ptr<Stream>& stream, const absl::Status& reason) override;
  void StopWriter(const absl::Status& reason) override;
  void TerminateStreams(const absl::Status& reason) override;

  // StreamSink.
  absl::Status Send(Stream& stream, Kind kind, absl::string_view data, Follows follows) override;
  absl::Status SendTerminal(Stream& stream, Kind kind, absl::string_view data,
                            const absl::Status& dropped) override;
  // Nothing is held back: the metadata and Invoke were queued with the stream.
  absl::Status OnFirstRecv(Stream& stream) override;
  void OnConsumed(Stream& stream, uint64_t wire_bytes) override;
  void OnStreamError(Stream& stream, const absl::Status& error) override {
    FailStream(stream, error, /*abortive=*/true);
  }
  void OnFinished(Stream& stream) override;

  // Tells the peer (an Error; `abortive`: with the control bit, for failures found on receive) and
  // terminates the stream with `error`. Never blocks.
  void FailStream(Stream& stream, const absl::Status& error, bool abortive);
  absl::Status OnStreamFrame(StreamState& state, const Frame& frame);
  // The peer ended `stream` with `kind` (Cancel, Close or Error): it discards whatever we still
  // send on it, so the writer drops the stream's queued data (senders see §7.4's results).
  void DiscardQueuedForPeer(const Stream& stream, Kind kind);
  // A frame whose data the parser skipped (over the message limit): its stream fails.
  absl::Status OnOversizeFrame(const Frame& frame);

  // Server side of Invokes (impl/mux_invoke.cc).
  absl::Status OnUnknownStreamFrame(const Frame& frame);
  absl::Status OnPendingFrame(uint64_t id, PendingInvoke& pending, const Frame& frame);
  // `pending`: the stream's entry, assembling.
  absl::Status OnInvokePacket(PendingInvoke& pending, Packet packet);
  // Answers stream `id` (never registered) with `error` and drops its later frames until its
  // Invoke is complete (`invoke_complete`: it just was).
  absl::Status RefusePending(uint64_t id, const absl::Status& error, bool invoke_complete);
  // An Error on message ID 1 for a stream that was never registered; waits (from the reader)
  // while the writer's control queue is full.
  absl::Status WriteUnregisteredError(uint64_t stream, const absl::Status& error);
  void ForgetPending(uint64_t id, PendingInvoke& pending);

  // Flow control (impl/mux_flow.cc).
  bool flow_enabled() const { return options_.flow.enabled; }
  void OnWindowUpdate(const Frame& frame);
  // Accounts a frame the assembler accepted (`result`) for the stream's window.
  void AccountFrame(StreamState& state, const Frame& frame, const MuxAssembler::Result& result);
  // `bytes` left the stream's buffers: granted back once grant_pending reaches the threshold.
  void Grant(StreamState& state, uint64_t bytes);
  // The writer is writing the stream's WindowUpdate: the delta, now granted.
  uint64_t TakeWindowGrant(uint64_t stream);
  // The writer's report: `stream` waited credit_stall_timeout for credit.
  void OnCreditStall(uint64_t stream);
  // Debug builds: every Message byte received is accounted exactly once (see StreamState).
  void CheckWindow(const StreamState& state) const;
  // The error of a message over the stream's limit (the fork's text, kResourceExhausted).
  absl::Status MessageTooLarge() const;

  // Buffer budget and half-close (impl/mux_budget.cc).
  size_t AssemblingBytes() const override { return assembler_.partial_bytes(); }
  bool ShedLargestHolder(const absl::Status& why) override;
  size_t WriterSpareBytes() const override { return writer_.spare_bytes(); }
  // Idle: the writer frees its batch buffer and its fiber ends (started again on the next write).
  size_t ReleaseWriterSpare() override {
    writer_.ExitWhenIdle();
    return writer_.ReleaseSpare();
  }
  bool WriterFiberCanEnd() const override { return writer_.fiber_running(); }
  void EndStreamsStillReceiving(const absl::Status& reason) override;
  // pending_'s metadata, with its bytes counted in the connection's buffers.
  void StorePending(PendingInvoke& pending, Metadata metadata, size_t bytes);
  // Ends an assembling entry whose Invoke completed: its metadata.
  Metadata TakePending(uint64_t id, PendingInvoke& pending);
  // Uncounts the entry's metadata (it is dropped or handed on).
  void ReleasePending(PendingInvoke& pending);
  void ClearPending();

  MuxAssembler assembler_;
  MuxWriter writer_;
  // Active streams by ID (ordered: termination and reports are deterministic).
  IdMap<StreamState> streams_{tunables::kStreamNodeSpareMaxCount};
  uint64_t last_client_stream_id_ = 0;
  // Server: streams whose Invoke has not completed, by stream ID.
  IdMap<PendingInvoke> pending_{tunables::kStreamNodeSpareMaxCount};
  size_t pending_assembling_ = 0;  // entries of pending_ in State::kAssembling
  uint64_t grants_received_ = 0;   // WindowUpdates taken on this connection
};

}  // namespace drpc

#endif  // DRPC_IMPL_MUX_MANAGER_H_
