#include "impl/mux_manager.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/situations.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/metadata.h"

namespace drpc {

MuxManager::MuxManager(Env& env, std::unique_ptr<Transport> transport, Role role,
                       const Options& options)
    : Manager(env, std::move(transport), role, options),
      assembler_(MuxAssembler::Options{
          .packet_max_bytes = options.MuxMessageMaxBytes(),
          // Active streams, pending ones, and one complete Invoke that needs no pending state.
          .streams_max_count =
              options.concurrent_streams_max_count + options.pending_invokes_max_count + 1,
          .buffers = &buffer_pool(),
          .spare_streams_max_count = tunables::kStreamNodeSpareMaxCount}),
      writer_(env, this->transport(),
              MuxWriter::Options{.split_bytes = options.split_bytes,
                                 .batch_max_bytes = options.write_batch_max_bytes,
                                 .buffers = &buffers(),
                                 .credit_stall_timeout = options.credit_stall_timeout},
              [this](const absl::Status& s) { Terminate(ClosedError("write failed", s)); },
              [this](uint64_t stream) { return TakeWindowGrant(stream); },
              [this](uint64_t stream) { OnCreditStall(stream); }) {
  DRPC_CHECK(options.mux);
}

absl::Status MuxManager::Start() {
  absl::Status writer = writer_.Start([this] {
    return SpawnFiber(role() == Role::kClient ? "client mux writer" : "server mux writer",
                      [this] { writer_.Run(); });
  });
  if (!writer.ok()) return writer;
  return Manager::Start();
}

MuxManager::~MuxManager() = default;

// --- Client ---------------------------------------------------------------------------------------

std::string MuxManager::EncodeInvokeMetadata(const Metadata& metadata) {
  // The stream's compression is the client's choice, asked for in its metadata; a client without
  // one strips a caller's stray key, so the server never compresses what we cannot read.
  if (options_.compression == Compression::kNone && !metadata.contains(kCompressionMetadataKey)) {
    return Manager::EncodeInvokeMetadata(metadata);
  }
  Metadata md = metadata;
  SetRequestedCompression(options_.compression, md);
  return EncodeMetadata(md);
}

absl::StatusOr<std::shared_ptr<Stream>> MuxManager::OpenClientStream(CallContext& ctx,
                                                                     absl::string_view rpc,
                                                                     std::string metadata) {
  const uint64_t id = ++last_client_stream_id_;
  std::shared_ptr<Stream> stream = MakeStream(id, Stream::Role::kClient, options_.compression);
  DRPC_CHECK(!streams_.contains(id)) << "client stream ID " << id << " reused";
  streams_.Insert(id).stream = stream;
  writer_.AddStream(id, flow_enabled(), options_.flow.stream_window_bytes, /*local_invoke=*/true);
  // Metadata and Invoke go into the writer together: nothing (a Cancel) can come between them,
  // and a Cancel or Close queued before they are written sends nothing at all (MuxWriter).
  if (metadata.empty()) {
    writer_.WriteAsync(id, {{PacketId{id, stream->NextMessageId()}, Kind::kInvoke, rpc}});
  } else {
    const PacketId md_id{id, stream->NextMessageId()};
    const PacketId invoke_id{id, stream->NextMessageId()};
    writer_.WriteAsync(id, {{md_id, Kind::kInvokeMetadata, metadata, false, &metadata},
                            {invoke_id, Kind::kInvoke, rpc}});
  }
  // The writer took the encoding and left a buffer of its own: it serves the next stream's.
  KeepInvokeMetadataBuffer(std::move(metadata));
  WatchContext(ctx, stream, "mux.notice_cancel_late");
  return stream;
}

void MuxManager::OnContextDone(const std::shared_ptr<Stream>& stream, const absl::Status& reason) {
  if (!streams_.contains(stream->id()) || stream->terminated()) return;
  // Soft cancel, always: a Cancel packet ahead of the stream's queued data, then the local
  // cancel. Other streams are untouched.
  writer_.WriteTerminalAsync(
      stream->id(), {PacketId{stream->id(), stream->NextMessageId()}, Kind::kCancel, "", true},
      reason);
  stream->Cancel(reason);
}

// --- Reader ---------------------------------------------------------------------------------------

absl::Status MuxManager::OnFrame(const Frame& frame) {
  if (frame.kind == Kind::kWindowUpdate) {
    // Before any lookup or message-ID check: a grant carries message ID 0 and may arrive between
    // two frames of a message; bad ones are dropped (docs/protocol.md §11.7).
    OnWindowUpdate(frame);
    return absl::OkStatus();
  }
  if (frame.skipped_bytes > 0) return OnOversizeFrame(frame);
  if (StreamState* state = streams_.Find(frame.id.stream)) return OnStreamFrame(*state, frame);
  return OnUnknownStreamFrame(frame);
}

std::optional<std::string> MuxManager::LendFrameBuffer(const Frame& head, size_t data_bytes) {
  if (head.kind != Kind::kMessage || head.skipped_bytes > 0) return std::nullopt;
  const StreamState* state = streams_.Find(head.id.stream);
  if (state == nullptr || state->stream->terminated()) return std::nullopt;
  return assembler_.LendBuffer(head, data_bytes);
}

absl::Status MuxManager::MessageTooLarge() const {
  return absl::ResourceExhaustedError(MessageTooLargeErrorText(options_.MuxMessageMaxBytes()));
}

absl::Status MuxManager::OnOversizeFrame(const Frame& frame) {
  // One frame over the message limit is the same stream-scoped failure as a message that grows
  // over it frame by frame (docs/protocol.md §15.4); its data was skipped, never buffered.
  env_->chaos().Reach(situations::kMuxOversizeFrameFailedItsStream);
  if (const StreamState* state = streams_.Find(frame.id.stream)) {
    FailStream(*state->stream, MessageTooLarge(), /*abortive=*/true);
    return absl::OkStatus();
  }
  if (frame.kind != Kind::kInvoke && frame.kind != Kind::kInvokeMetadata) {
    return absl::OkStatus();  // an unknown stream's frame: dropped
  }
  if (absl::Status s = CheckPeerMayInvoke(frame.kind, frame.id.stream); !s.ok()) return s;
  return RefusePending(frame.id.stream, MessageTooLarge(),
                       /*invoke_complete=*/frame.kind == Kind::kInvoke && frame.done);
}

absl::Status MuxManager::OnStreamFrame(StreamState& state, const Frame& frame) {
  std::shared_ptr<Stream> stream = state.stream;
  if (stream->terminated()) {
    env_->chaos().Reach(situations::kMuxFrameForAnEndedStream);
    // The stream is over here, but what we sent on it may still be queued: a reply queued with
    // its CloseSend ends the stream locally before it is written. A peer that then cancels (or
    // closes, or errs) discards it, and an upstream client that has moved on to its next stream
    // would take its late frames for a protocol error (docs/protocol.md §4.2), so it is dropped now.
    if (frame.kind == Kind::kCancel || frame.kind == Kind::kClose || frame.kind == Kind::kError) {
      DiscardQueuedForPeer(*stream, frame.kind);
    }
    return absl::OkStatus();  // drop what trails the stream
  }
  auto handle_packet = [&](Packet&& packet) {
    const Kind kind = packet.kind;
    absl::Status s = stream->HandlePacket(std::move(packet));
    // The packet may have finished the stream, which forgets `state`: look it up again (only
    // flow control has a window to check).
    if (flow_enabled()) {
      if (const StreamState* s = streams_.Find(stream->id())) CheckWindow(*s);
    }
    if (stream->terminated() && (kind == Kind::kError || kind == Kind::kCancel || kind == Kind::kClose)) {
      // The peer ended the stream and discards whatever we still send on it. Dropping it now also
      // frees a sender waiting for credit (the peer grants no more), and keeps late frames of this
      // stream from following a newer stream's frames, which an upstream client would reject
      // (docs/protocol.md §4.2). Their senders see what Send reports after such an ending
      // (docs/protocol.md §7.4): EOF, or "closed" after a Close; Recv then tells the reason.
      DiscardQueuedForPeer(*stream, kind);
    }
    return s;
  };
  // The common frame, a whole packet, skips OnFrame's result wrapper (flow control accounts
  // every frame by that result).
  if (!flow_enabled()) {
    if (Packet whole; assembler_.TakeWholePacket(frame, whole)) {
      return handle_packet(std::move(whole));
    }
  }
  absl::StatusOr<MuxAssembler::Result> r = assembler_.OnFrame(frame, lent_frame_buffer());
  // A frame the assembler rejects ends the connection and is accounted nowhere.
  if (!r.ok()) return AsProtocolError(r.status());
  if (flow_enabled()) AccountFrame(state, frame, *r);
  if (auto* packet = std::get_if<Packet>(&*r)) return handle_packet(std::move(*packet));
  if (std::holds_alternative<StreamAssemblyError>(*r)) {
    FailStream(*stream, MessageTooLarge(), /*abortive=*/true);
  }
  return absl::OkStatus();
}

void MuxManager::DiscardQueuedForPeer(const Stream& stream, Kind kind) {
  writer_.DiscardQueued(stream.id(), kind == Kind::kClose ? ClosedError("remote closed the stream")
                                                          : EofError());
}

// --- Writer (StreamSink) -------------------------------------------------------------------------

absl::Status MuxManager::Send(Stream& stream, Kind kind, absl::string_view data, Follows) {
  if (kind == Kind::kMessage && flow_enabled() && data.size() > options_.flow.message_max_bytes) {
    // The fork's sender refuses it before anything is sent; the stream goes on.
    return MessageTooLarge();
  }
  const MuxWriter::Packet packet{PacketId{stream.id(), stream.NextMessageId()}, kind, data};
  // A small message is queued (copied) without waiting: SendLast's, whose CloseSend follows at
  // once and waits for both (one write), or Send's, which leaves with whatever the sender queues
  // before it next waits (few writes for a burst). A large one is not worth the copy and waits.
  if (kind == Kind::kMessage && data.size() <= tunables::kUnflushedCopyMaxBytes) {
    return writer_.WriteQueued(stream.id(), packet);
  }
  return writer_.Write(stream.id(), {packet});
}

absl::Status MuxManager::OnFirstRecv(Stream& stream) {
  // Nothing is held back in mux mode: a client stream's metadata and Invoke were queued when it
  // was created, and stay queued until written or dropped with the stream.
  DRPC_DCHECK(stream.role() == Stream::Role::kServer || stream.terminated() ||
              streams_.contains(stream.id()));
  return absl::OkStatus();
}

absl::Status MuxManager::SendTerminal(Stream& stream, Kind kind, absl::string_view data,
                                      const absl::Status& dropped) {
  return writer_.WriteTerminal(
      stream.id(), {PacketId{stream.id(), stream.NextMessageId()}, kind, data, kind == Kind::kCancel},
      dropped);
}

void MuxManager::FailStream(Stream& stream, const absl::Status& error, bool abortive) {
  if (stream.terminated()) return;
  // Both roles answer with an Error, as the fork does: the peer learns why (a client's Error
  // ends the server's call like a Cancel, with the reason). Abortive ones carry the control bit.
  writer_.WriteTerminalAsync(stream.id(),
                             {PacketId{stream.id(), stream.NextMessageId()}, Kind::kError,
                              ErrorBodyFor(options_.ErrorFormatOrDefault(), error), abortive},
                             error);
  stream.TerminateWithError(error);
}

void MuxManager::Refuse(const std::shared_ptr<Stream>& stream) {
  FailStream(*stream, accepting_status(), /*abortive=*/false);
}

void MuxManager::OnFinished(Stream& stream) {
  DRPC_CHECK(stream.terminated());
  UnwatchContext(stream);
  if (!streams_.Erase(stream.id())) return;
  assembler_.Forget(stream.id());
  writer_.RemoveStream(stream.id());
}

// --- Termination ----------------------------------------------------------------------------------

void MuxManager::StopWriter(const absl::Status& reason) {
  writer_.Stop(IsClosed(reason) ? reason : ClosedError("connection closed", reason));
}

void MuxManager::TerminateStreams(const absl::Status& reason) {
  // Terminating a stream can finish it, which erases it from streams_: iterate over a copy.
  std::vector<std::shared_ptr<Stream>> streams;
  streams_.ForEach([&streams](uint64_t, const StreamState& s) { streams.push_back(s.stream); });
  for (const std::shared_ptr<Stream>& s : streams) {
    s->TerminateFromConnection(StreamErrorFor(s->role(), reason));
  }
  ClearPending();
}

}  // namespace drpc
