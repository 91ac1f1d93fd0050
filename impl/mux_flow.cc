// MuxManager, flow control as the cockroachdb/drpc fork does it (docs/protocol.md §17, line C, and
// tolerant of line H): a static setting of the connection (Options::flow), nothing negotiated.
//
// Sending (MuxWriter): each stream starts with stream_window_bytes of credit; a message's first
// frame waits for credit, the rest overdraws; WindowUpdates repay a deficit first and saturate.
// A sender that waits credit_stall_timeout fails its stream here (OnCreditStall), naming the
// likely cause: no grant ever arrived on the connection (the peer runs without flow control) or
// the peer's application stopped reading.
//
// Receiving: grant on consume. Every Message byte taken from the wire is in exactly one place —
// the message in assembly, the stream's queue, grant_pending (consumed by the application,
// dropped, or part of a partial message a higher message ID abandoned — line H's senders count on
// that credit too), or granted_bytes. Once grant_pending reaches grant_threshold_bytes a
// WindowUpdate is requested; the writer takes all that is pending when it writes it, so grants are
// coalesced and counted exactly when the peer can learn of them. No grants once the stream ended
// or the peer finished sending. A queue over window + largest message fails the stream
// (impl/stream.cc): the peer ignored flow control.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "impl/mux_manager.h"
#include "impl/situations.h"
#include "proto/base/check.h"
#include "proto/window.h"

namespace drpc {

void MuxManager::OnWindowUpdate(const Frame& frame) {
  absl::StatusOr<uint64_t> delta = ParseForkWindowUpdate(frame);
  if (!delta.ok() || !flow_enabled()) {
    // Malformed, or we run without flow control (the fork drops grants then too): never fatal.
    env_->chaos().Reach(situations::kMuxWindowUpdateDropped);
    return;
  }
  if (!streams_.contains(frame.id.stream)) {
    env_->chaos().Reach(situations::kMuxWindowUpdateForAnUnknownStream);
    return;
  }
  ++grants_received_;
  writer_.AddCredit(frame.id.stream, *delta);
}

void MuxManager::OnCreditStall(uint64_t stream) {
  const StreamState* state = streams_.Find(stream);
  if (state == nullptr || state->stream->terminated()) return;
  env_->chaos().Reach(situations::kMuxCreditStallFailedTheStream);
  const absl::string_view cause =
      grants_received_ == 0
          ? "the peer has granted no credit on this connection: is flow control enabled on both "
            "ends (Options::flow.enabled, the same window)?"
          : "the peer's application is not reading the stream (or the two ends' flow-control "
            "windows differ)";
  FailStream(*state->stream,
             absl::ResourceExhaustedError(absl::StrCat(
                 "flow-control credit stall: stream ", stream, " waited ",
                 options_.credit_stall_timeout.ToString(), " for credit to send; ", cause)),
             /*abortive=*/true);
}

void MuxManager::AccountFrame(StreamState& state, const Frame& frame,
                              const MuxAssembler::Result& result) {
  DRPC_DCHECK(flow_enabled());
  if (state.assembling_message != 0 && frame.id.message != state.assembling_message) {
    // A higher message ID abandoned the partial message (the assembler dropped it): its sender
    // was charged for those bytes, so they are granted back like consumed ones.
    env_->chaos().Reach(situations::kMuxDiscardedPartialMessageGranted);
    const uint64_t discarded = state.assembling_bytes;
    state.assembling_message = state.assembling_bytes = 0;
    Grant(state, discarded);
  }
  if (frame.kind != Kind::kMessage) return;
  state.received_bytes += frame.data.size();
  if (std::holds_alternative<std::monostate>(result)) {
    state.assembling_message = frame.id.message;
    state.assembling_bytes += frame.data.size();
    return;
  }
  // Complete: the whole message goes to the stream's queue, which accounts for it from now on.
  // Too large: the stream fails; its bytes count as dropped.
  const uint64_t message = state.assembling_bytes + frame.data.size();
  state.assembling_message = state.assembling_bytes = 0;
  if (std::holds_alternative<StreamAssemblyError>(result)) Grant(state, message);
}

void MuxManager::Grant(StreamState& state, uint64_t bytes) {
  state.grant_pending += bytes;
  if (state.stream->terminated() || state.grant_pending < options_.flow.grant_threshold_bytes) {
    return;
  }
  writer_.RequestWindowUpdate(state.stream->id());
}

uint64_t MuxManager::TakeWindowGrant(uint64_t stream) {
  StreamState* found = streams_.Find(stream);
  if (found == nullptr || found->stream->terminated()) return 0;
  // A peer that finished sending needs no credit (the first grant of a unary call's stream
  // usually finds its CloseSend already read).
  if (found->stream->peer_send_closed()) return 0;
  StreamState& state = *found;
  const uint64_t delta = state.grant_pending;
  if (delta == 0) return 0;
  env_->chaos().Reach(situations::kMuxGrantSent);
  state.grant_pending = 0;
  state.granted_bytes += delta;
  CheckWindow(state);
  return delta;
}

void MuxManager::OnConsumed(Stream& stream, uint64_t wire_bytes) {
  StreamState* state = streams_.Find(stream.id());
  if (state == nullptr || !flow_enabled()) return;
  Grant(*state, wire_bytes);
  CheckWindow(*state);
}

void MuxManager::CheckWindow(const StreamState& state) const {
  // Once the connection ended nothing is accounted any more (a frame that ends it is never
  // assembled); while it lives the accounting is exact.
  if (!flow_enabled() || terminated()) return;
  DRPC_DCHECK_EQ(state.received_bytes, state.assembling_bytes + state.stream->queued_credit() +
                                           state.grant_pending + state.granted_bytes)
      << "stream " << state.stream->id() << ": received Message bytes not accounted exactly once";
}

}  // namespace drpc
