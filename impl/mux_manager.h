// MuxManager: opt-in multiplexing (docs/protocol.md §11, cockroachdb/drpc semantics) — many concurrent
// streams on one transport.
//   * Reading is per frame: each stream has its own assembler (split frames of different streams
//     interleave freely) and its own bounded receive queue.
//   * Writing goes through the MuxWriter: fair interleaving of ready streams, metadata + Invoke
//     queued atomically, terminal packets ahead of queued data.
//   * Cancelling a stream always soft-cancels (a Cancel packet) and never touches other streams.
//   * Errors are connection-scoped (transport read/write error, malformed frames, protocol errors,
//     Close) or stream-scoped (application errors, remote Close/CloseSend/Cancel/Error, a message
//     over packet_max_bytes, a flow-control violation), exactly as docs/protocol.md §11.4.
//   * Flow control is the client's choice, per stream: a stream is flow-controlled when its
//     client announces a receive window in the metadata key kFlowWindowMetadataKey (a mux client
//     does when its Options::flow_control is set), and a server always honours the announcement.
//     The client starts with window_initial_bytes of credit towards the server, the server with
//     the announced window towards the client; each grants more with WindowUpdate packets (kind
//     8, control, message ID 0) as its application consumes, credit counting only once the update
//     is written (impl/mux_flow.cc), and never has more than its window buffered per stream —
//     except one message in assembly when the application has consumed everything before it, so
//     a message larger than the window cannot deadlock. Data beyond the granted window fails that
//     stream (stream-scoped "flow control violation"). Streams that announce nothing (upstream
//     clients, mux clients without flow control) use bounded queues with the receive-stall policy
//     of impl/stream.h instead.
//   * A server refuses Invokes beyond concurrent_streams_max_count with an Error packet (the
//     connection stays up), bounds streams whose metadata arrived without their Invoke, and never
//     reuses a stream ID (a replayed Invoke is dropped).
//   * A Cancel for a stream that does not exist yet (server): the stream is cancelled before it
//     started and never runs — between its metadata and its Invoke the pending metadata is
//     dropped; before anything of it the stream ID is retired, so its Invoke, if it still comes,
//     is dropped like a replayed one. Nothing is sent back. Our clients never send either: a
//     Cancel queued while the stream's metadata and Invoke are still queued sends nothing at all.
//   * Errors for streams that were never registered (refused Invokes) wait in the writer's
//     bounded control queue; a peer that keeps causing them without reading ends the connection
//     with a protocol error.
#ifndef DRPC_IMPL_MUX_MANAGER_H_
#define DRPC_IMPL_MUX_MANAGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "impl/manager.h"
#include "impl/mux_writer.h"
#include "proto/packet.h"

namespace drpc {

class MuxManager final : public Manager {
 public:
  // `options` must be valid and select mux mode; use CreateManager (impl/manager_factory.h).
  MuxManager(Env& env, std::unique_ptr<Transport> transport, Role role, const Options& options);
  ~MuxManager() override;

  void RefuseStream(Stream& stream, const absl::Status& reason) override {
    OnStreamError(stream, reason);
    stream.StopReceiving();
  }

  Usage usage() const override {
    size_t queued = 0;
    for (const auto& [id, state] : streams_) queued += state.stream->queued_bytes();
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
    bool flow_controlled = false;
    uint64_t recv_window = 0;     // what we let the peer have in flight
    uint64_t recv_credit = 0;     // what the peer may still send (as far as it was told)
    uint64_t grant_pending = 0;   // consumed, not yet granted by a written WindowUpdate
    uint64_t packet_charge = 0;   // credit charged for the message in assembly
    uint64_t early_granted = 0;   // part of it already handed back
    uint64_t charging_message = 0;  // message ID of the message in assembly (0: none)
  };

  // Manager.
  absl::StatusOr<std::shared_ptr<Stream>> OpenClientStream(CallContext& ctx,
                                                           absl::string_view rpc,
                                                           std::string metadata) override;
  // Adds the stream's receive window (kFlowWindowMetadataKey) when flow_control is set.
  std::string EncodeInvokeMetadata(const Metadata& metadata) const override;
  absl::Status Start() override;
  absl::Status OnFrame(const Frame& frame) override;
  // Fails the accepted-but-queued stream: an Error to the client.
  void Refuse(const std::shared_ptr<Stream>& stream) override;
  // Soft cancel, always (a Cancel ahead of the stream's queued data).
  void OnContextDone(const std::shared_ptr<Stream>& stream, const absl::Status& reason) override;
  void StopWriter(const absl::Status& reason) override;
  void TerminateStreams(const absl::Status& reason) override;
  // An Error for a stream that was never registered (refused or failed before its Invoke).
  // A connection-scoped protocol error if the writer's control queue is full.
  absl::Status WriteUnregisteredError(uint64_t stream, const absl::Status& error);

  // StreamSink.
  absl::Status Send(Stream& stream, Kind kind, absl::string_view data, Follows follows) override;
  absl::Status SendTerminal(Stream& stream, Kind kind, absl::string_view data,
                            const absl::Status& dropped) override;
  // Nothing is held back: the metadata and Invoke were queued with the stream.
  absl::Status OnFirstRecv(Stream& stream) override;
  void OnConsumed(Stream& stream, uint64_t credit) override;
  void OnStreamError(Stream& stream, const absl::Status& error) override;
  void OnFinished(Stream& stream) override;

  absl::Status OnStreamFrame(StreamState& state, const Frame& frame);
  // The peer ended `stream` with `kind` (Cancel, Close or Error): it discards whatever we still
  // send on it, so the writer drops the stream's queued data (senders see §7.4's results).
  void DiscardQueuedForPeer(const Stream& stream, Kind kind);
  absl::Status OnUnknownStreamFrame(const Frame& frame);
  absl::Status OnInvokePacket(Packet packet);
  // Flow control (impl/mux_flow.cc).
  void OnWindowUpdate(const Frame& frame);
  // Server: a stream whose client announced a window; we receive up to `recv_window` (at least
  // window_initial_bytes, what the client assumes before any WindowUpdate).
  void StartFlowControl(StreamState& state, uint64_t recv_window);
  // Charges a Message frame against the stream's window; false (stream failed) if it exceeds it.
  bool ChargeFrame(StreamState& state, const Frame& frame, uint64_t* packet_credit);
  // `credit` bytes left the stream's buffers: grant them back (a WindowUpdate once enough).
  void Grant(StreamState& state, uint64_t credit);
  // Debug builds: the stream's window is conserved — what the peer may still send, what is to be
  // granted, the message in assembly and the queued messages add up to exactly the window.
  void CheckWindow(const StreamState& state) const;
  // The writer is writing the stream's WindowUpdate: the delta, now counted as credit.
  uint64_t TakeWindowGrant(uint64_t stream);
  // Server: whether `id` may start a new stream (never used before), marking it used.
  bool ClaimStreamId(uint64_t id);

  // Buffer budget and half-close (impl/mux_budget.cc).
  size_t AssemblingBytes() const override { return assembler_.partial_bytes(); }
  bool ShedLargestHolder(const absl::Status& why) override;
  void EndStreamsStillReceiving(const absl::Status& reason) override;
  // pending_, with its bytes counted in the connection's buffers.
  void StorePending(uint64_t id, Metadata metadata, size_t bytes);
  Metadata TakePending(uint64_t id);
  bool ErasePending(uint64_t id);  // false if there was none
  void ClearPending();

  MuxAssembler assembler_;
  MuxWriter writer_;
  // Active streams by ID (ordered: termination and reports are deterministic).
  std::map<uint64_t, StreamState> streams_;
  uint64_t last_client_stream_id_ = 0;
  // Server: metadata of streams whose Invoke has not arrived, by stream ID, with its encoded
  // size (counted in the connection's buffers; impl/mux_budget.cc).
  struct PendingInvoke {
    Metadata metadata;
    size_t bytes = 0;
  };
  std::map<uint64_t, PendingInvoke> pending_;
  // Server: stream IDs ever used are those <= highest_stream_id_ not in unused_ids_.
  uint64_t highest_stream_id_ = 0;
  std::set<uint64_t> unused_ids_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_MUX_MANAGER_H_
