// MuxManager, the server side of Invokes (docs/protocol.md §14.2, §14.4, §18, §19): stream IDs as
// the fork accepts them (any order, again once a stream finished), pending streams (metadata
// before the Invoke) bounded by pending_invokes_max_count, and an Error on message ID 1 — never
// silence — for every Invoke that will not be served.
//
// Cost per frame a peer controls: map lookups by stream ID only (O(log n) in the bounded number
// of streams), whatever IDs the peer picks; nothing is kept for stream IDs that are not in use.
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/mux_manager.h"
#include "impl/situations.h"
#include "proto/base/check.h"
#include "proto/compression.h"

namespace drpc {

void MuxManager::ForgetPending(uint64_t id, PendingInvoke& pending) {
  ReleasePending(pending);
  if (pending.state == PendingInvoke::State::kAssembling) {
    DRPC_CHECK_GT(pending_assembling_, 0u);
    --pending_assembling_;
    assembler_.Forget(id);
  }
  pending_.Erase(id);
}

absl::Status MuxManager::OnUnknownStreamFrame(const Frame& frame) {
  const uint64_t id = frame.id.stream;
  if (frame.kind != Kind::kInvoke && frame.kind != Kind::kInvokeMetadata) {
    if (frame.kind == Kind::kCancel && role() == Role::kServer) {
      PendingInvoke* pending = pending_.Find(id);
      if (pending != nullptr && pending->state == PendingInvoke::State::kAssembling) {
        // Between its metadata and its Invoke: the stream never runs; its Invoke, when it comes,
        // is answered with Canceled.
        env_->chaos().Reach(situations::kMuxCancelBetweenMetadataAndInvoke);
        assembler_.Forget(id);
        --pending_assembling_;
        ReleasePending(*pending);
        *pending = PendingInvoke{.state = PendingInvoke::State::kCancelled};
      } else if (pending == nullptr) {
        // Usually a Cancel that crossed the end of its stream. Like the fork, nothing is kept:
        // an Invoke that still follows starts a stream.
        env_->chaos().Reach(situations::kMuxCancelForAStreamTheServerDoesNotHave);
      }
    }
    return absl::OkStatus();  // an unknown or finished stream's frame: dropped
  }
  if (absl::Status s = CheckPeerMayInvoke(frame.kind, id); !s.ok()) return s;
  if (id == 0) {
    // Our assembler reserves stream 0; the peer still hears why its call is not served.
    return RefusePending(id, absl::InvalidArgumentError("stream ID 0 is reserved"),
                         frame.kind == Kind::kInvoke && frame.done);
  }
  PendingInvoke* pending = pending_.Find(id);
  if (pending == nullptr) {
    const bool whole_invoke = frame.kind == Kind::kInvoke && frame.done;
    if (pending_assembling_ >= options_.pending_invokes_max_count && !whole_invoke) {
      // A complete Invoke needs no pending state; anything else would exceed the bound.
      env_->chaos().Reach(situations::kMuxInvokeRefusedOverPendingInvokes);
      return RefusePending(id, absl::ResourceExhaustedError(absl::StrCat(
                                   "too many streams waiting for their Invoke: at most ",
                                   options_.pending_invokes_max_count)),
                           /*invoke_complete=*/false);
    }
    pending = &pending_.Insert(id);
    ++pending_assembling_;
  }
  return OnPendingFrame(id, *pending, frame);
}

absl::Status MuxManager::OnPendingFrame(uint64_t id, PendingInvoke& pending, const Frame& frame) {
  if (pending.state != PendingInvoke::State::kAssembling) {
    // Refused or cancelled: its frames are dropped until its Invoke is complete, after which
    // nothing more is expected of it.
    if (frame.kind != Kind::kInvoke || !frame.done) return absl::OkStatus();
    const bool cancelled = pending.state == PendingInvoke::State::kCancelled;
    pending_.Erase(id);
    return cancelled ? WriteUnregisteredError(id, CanceledError()) : absl::OkStatus();
  }
  // The common frame, a whole packet, skips OnFrame's result wrapper.
  if (Packet whole; assembler_.TakeWholePacket(frame, whole)) {
    return OnInvokePacket(pending, std::move(whole));
  }
  absl::StatusOr<MuxAssembler::Result> r = assembler_.OnFrame(frame);
  if (!r.ok()) return AsProtocolError(r.status());
  if (auto* packet = std::get_if<Packet>(&*r)) return OnInvokePacket(pending, std::move(*packet));
  if (std::holds_alternative<StreamAssemblyError>(*r)) {
    return RefusePending(id, MessageTooLarge(), frame.kind == Kind::kInvoke && frame.done);
  }
  return absl::OkStatus();
}

absl::Status MuxManager::RefusePending(uint64_t id, const absl::Status& error,
                                       bool invoke_complete) {
  PendingInvoke* pending = pending_.Find(id);
  if (pending != nullptr && pending->state != PendingInvoke::State::kAssembling) {
    return absl::OkStatus();  // already answered
  }
  if (pending != nullptr) ForgetPending(id, *pending);
  if (!invoke_complete) {
    // Its later frames (the rest of its metadata, its Invoke) must not start a stream without
    // them: they are dropped until the Invoke is complete. Such entries are bounded too.
    if (pending_.size() >= 2 * options_.pending_invokes_max_count) {
      return ProtocolError(absl::StrCat("more than ", 2 * options_.pending_invokes_max_count,
                                        " streams sent metadata or part of an Invoke and no "
                                        "complete Invoke"));
    }
    pending_.Insert(id).state = PendingInvoke::State::kRefused;
  }
  return WriteUnregisteredError(id, error);
}

absl::Status MuxManager::WriteUnregisteredError(uint64_t stream, const absl::Status& error) {
  std::string frame;
  // Message ID 1: the first packet we send on that stream, what the peer's assembler expects.
  AppendFrame(frame, Frame{.id = PacketId{stream, 1},
                           .kind = Kind::kError,
                           .done = true,
                           .control = false,
                           .data = ErrorBodyFor(options_.ErrorFormatOrDefault(), error)});
  absl::Status s = writer_.WriteUnregistered(std::move(frame));
  // Only fails once the connection is ending: the reader stops anyway.
  return s.ok() || terminated() ? absl::OkStatus() : s;
}

absl::Status MuxManager::OnInvokePacket(PendingInvoke& pending, Packet packet) {
  const uint64_t id = packet.id.stream;
  DRPC_DCHECK(pending_.Find(id) == &pending);
  DRPC_CHECK(pending.state == PendingInvoke::State::kAssembling);
  if (packet.kind == Kind::kInvokeMetadata) {
    absl::StatusOr<Metadata> md = DecodeInvokeMetadata(packet);
    if (!md.ok()) return md.status();
    // A second metadata packet replaces the first.
    StorePending(pending, *std::move(md), packet.data.size());
    // Decoded: its buffer carries the Invoke that follows (the assembler takes from the pool).
    buffer_pool().Give(std::move(packet.data));
    return absl::OkStatus();
  }
  Metadata metadata = TakePending(id, pending);
  if (absl::Status s = CheckInvokedRpc(packet); !s.ok()) return s;
  if (writer_.HasFramesToWrite(id)) {
    // The ID's previous stream ended here but its last frames are not written yet: to the peer it
    // is still open, and the fork treats an Invoke on an open stream as a protocol error.
    env_->chaos().Reach(situations::kMuxInvokeReusedAnIdStillBeingWritten);
    return ProtocolError(absl::StrCat("Invoke reuses stream ID ", id,
                                      " while its previous stream's last frames are unwritten"));
  }
  absl::Status refusal;
  absl::StatusOr<Compression> compression = TakeRequestedCompression(metadata);
  if (!accepting()) {
    env_->chaos().Reach(situations::kMuxInvokeRefusedWhileShuttingDown);
    refusal = accepting_status();
  } else if (streams_.size() >= options_.concurrent_streams_max_count) {
    env_->chaos().Reach(situations::kMuxInvokeRefusedOverMaxStreams);
    // The fork's MaxStreams refusal: code Unknown, its text; our clients read kResourceExhausted.
    refusal = WithRemoteErrorCode(RefusedError(options_.concurrent_streams_max_count), 0);
  } else if (!compression.ok()) {
    // The fork ends the connection over an unknown name; only this stream is refused here.
    env_->chaos().Reach(situations::kMuxInvokeRefusedForItsCompression);
    refusal = compression.status();
  }
  if (!refusal.ok()) {
    assembler_.Forget(id);
    return WriteUnregisteredError(id, refusal);
  }
  std::shared_ptr<Stream> stream = MakeStream(id, Stream::Role::kServer, *compression);
  DRPC_CHECK(!streams_.contains(id)) << "stream ID " << id << " started twice";
  streams_.Insert(id).stream = stream;
  writer_.AddStream(id, flow_enabled(), options_.flow.stream_window_bytes);
  OfferIncoming(std::move(stream), std::move(packet.data), std::move(metadata));
  return absl::OkStatus();
}

}  // namespace drpc
