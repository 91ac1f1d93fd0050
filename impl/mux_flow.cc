// MuxManager, per-stream flow control (docs/protocol.md §11.7): what the peer may send us on a stream, and the
// WindowUpdates that grant it more.
//
// Accounting per flow-controlled stream (all in "charge" units: data bytes, plus one for the frame
// that completes a message, exactly what the peer's MuxWriter charges):
//   recv_credit    what the peer may still send: the window it was told of minus what it sent.
//                  Credit is added only when the WindowUpdate that grants it is written
//                  (TakeWindowGrant), so a peer that sends more than it was told is caught.
//   grant_pending  bytes the application consumed (or that were granted early, see below) and
//                  not yet granted; a WindowUpdate is requested once it reaches half the window.
// So buffered bytes (queued messages plus the message in assembly) never exceed the window, and
// every delta is at most the window, itself at most kWindowMaxBytes.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "impl/mux_manager.h"
#include "impl/situations.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/window.h"

namespace drpc {

void MuxManager::OnWindowUpdate(const Frame& frame) {
  if (frame.id.stream == 0 || !streams_.contains(frame.id.stream)) {
    env_->chaos().Reach(situations::kMuxWindowUpdateForAnUnknownStream);
    return;
  }
  absl::StatusOr<uint64_t> delta = DecodeWindowUpdate(frame.data);
  if (!delta.ok()) return;
  writer_.AddCredit(frame.id.stream, *delta);
}

void MuxManager::StartFlowControl(StreamState& state, uint64_t recv_window) {
  DRPC_CHECK_GE(recv_window, options_.window_initial_bytes);
  state.flow_controlled = true;
  // The client assumes window_initial_bytes of credit; the rest is granted right away.
  state.recv_window = recv_window;
  state.recv_credit = options_.window_initial_bytes;
  if (state.recv_window > state.recv_credit) {
    state.grant_pending = state.recv_window - state.recv_credit;
    writer_.RequestWindowUpdate(state.stream->id());
  }
}

bool MuxManager::ChargeFrame(StreamState& state, const Frame& frame, uint64_t* packet_credit) {
  const uint64_t charge = frame.data.size() + (frame.done ? 1 : 0);
  if (charge > state.recv_credit) {
    // Stream-scoped: the peer broke this stream's window; other streams are not affected.
    OnStreamError(*state.stream,
                  absl::ResourceExhaustedError(absl::StrCat(
                      "flow control violation: stream ", frame.id.stream, " sent ", charge,
                      " bytes with ", state.recv_credit, " bytes of window left")));
    return false;
  }
  state.recv_credit -= charge;
  if (frame.id.message != state.charging_message) {
    // A new message: whatever was charged for an abandoned partial one is handed back.
    if (state.packet_charge > state.early_granted) {
      Grant(state, state.packet_charge - state.early_granted);
    }
    state.packet_charge = state.early_granted = 0;
    state.charging_message = frame.id.message;
  }
  state.packet_charge += charge;
  if (!frame.done && state.stream->queued_messages() == 0) {
    // The application has everything before this message, so it is waiting for this one: hand
    // its bytes back at once, or a message larger than the window could never complete.
    Grant(state, charge);
    state.early_granted += charge;
  }
  if (frame.done) {
    *packet_credit = state.packet_charge - state.early_granted;
    state.packet_charge = state.early_granted = 0;
    state.charging_message = 0;
  }
  return true;
}

void MuxManager::CheckWindow(const StreamState& state) const {
  // Once the connection ended nothing is granted any more, and the frame that ended it (a
  // protocol error, e.g. a repeated message ID) may have been charged without being assembled:
  // the window is only conserved while the connection lives.
  if (!state.flow_controlled || terminated()) return;
  DRPC_DCHECK_LE(state.early_granted, state.packet_charge);
  DRPC_DCHECK_EQ(state.recv_credit + state.grant_pending +
                     (state.packet_charge - state.early_granted) + state.stream->queued_credit(),
                 state.recv_window);
}

void MuxManager::Grant(StreamState& state, uint64_t credit) {
  // Never more than the window can be outstanding; the min only guards the arithmetic.
  state.grant_pending = std::min<uint64_t>(state.grant_pending + credit, limits::kWindowMaxBytes);
  if (state.stream->terminated()) return;
  const uint64_t threshold = std::max<uint64_t>(1, state.recv_window / 2);
  // Chaos: grant early and in small pieces, so updates race everything else in simulation.
  if (state.grant_pending >= threshold ||
      (state.grant_pending > 0 && env_->chaos().Buggify("mux.grant_early"))) {
    writer_.RequestWindowUpdate(state.stream->id());
  }
}

uint64_t MuxManager::TakeWindowGrant(uint64_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.flow_controlled || it->second.stream->terminated()) {
    return 0;
  }
  // A peer that half-closed sends no more messages: credit would be a wasted frame (the first
  // grant of a unary call's stream usually finds its CloseSend already read).
  if (it->second.stream->peer_send_closed()) return 0;
  StreamState& state = it->second;
  const uint64_t delta = std::min<uint64_t>(state.grant_pending, limits::kWindowMaxBytes);
  state.grant_pending -= delta;
  state.recv_credit += delta;
  DRPC_CHECK_LE(state.recv_credit, state.recv_window);
  CheckWindow(state);
  return delta;
}

void MuxManager::OnConsumed(Stream& stream, uint64_t credit) {
  auto it = streams_.find(stream.id());
  if (it == streams_.end() || !it->second.flow_controlled) return;
  StreamState& state = it->second;
  Grant(state, credit);
  if (stream.queued_messages() == 0 && state.packet_charge > state.early_granted) {
    // The application has taken everything queued and now waits for the message in assembly,
    // whose frames arrived while messages were queued: grant them now, or a sender that spent its
    // window on that message would wait for credit that never comes.
    Grant(state, state.packet_charge - state.early_granted);
    state.early_granted = state.packet_charge;
  }
  CheckWindow(state);
}

}  // namespace drpc
