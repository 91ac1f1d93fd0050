#include "impl/mux_manager.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "impl/errors.h"
#include "impl/situations.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/metadata.h"

namespace drpc {
namespace {

std::string EncodeControlPacket(PacketId id, Kind kind, absl::string_view body, bool control) {
  std::string out;
  AppendFrame(out, Frame{.id = id, .kind = kind, .done = true, .control = control, .data = body});
  return out;
}

}  // namespace

MuxManager::MuxManager(Env& env, std::unique_ptr<Transport> transport, Role role,
                       const Options& options)
    : Manager(env, std::move(transport), role, options),
      assembler_(MuxAssembler::Options{
          .packet_max_bytes = options.packet_max_bytes,
          .streams_max_count =
              options.concurrent_streams_max_count + options.pending_invokes_max_count,
          .buffers = &buffer_pool()}),
      writer_(env, this->transport(),
              MuxWriter::Options{.split_bytes = options.split_bytes,
                                 .batch_max_bytes = options.write_batch_max_bytes,
                                 .buffers = &buffers()},
              [this](const absl::Status& s) { Terminate(ClosedError("write failed", s)); },
              [this](uint64_t stream) { return TakeWindowGrant(stream); }) {
  DRPC_CHECK(options.mux);
}

absl::Status MuxManager::Start() {
  absl::Status writer =
      SpawnFiber(role() == Role::kClient ? "client mux writer" : "server mux writer",
                 [this] { writer_.Run(); });
  if (!writer.ok()) return writer;
  return Manager::Start();
}

MuxManager::~MuxManager() = default;

// --- Client ---------------------------------------------------------------------------------------

std::string MuxManager::EncodeInvokeMetadata(const Metadata& metadata) const {
  if (!options_.flow_control) return EncodeMetadata(metadata);
  // The stream's receive window, announced to the server (flow control is the client's choice).
  Metadata md = metadata;
  md[kFlowWindowMetadataKey] = absl::StrCat(options_.window_bytes);
  return EncodeMetadata(md);
}

absl::StatusOr<std::shared_ptr<Stream>> MuxManager::OpenClientStream(CallContext& ctx,
                                                                     absl::string_view rpc,
                                                                     std::string metadata) {
  const uint64_t id = ++last_client_stream_id_;
  const bool flow = options_.flow_control;
  std::shared_ptr<Stream> stream =
      MakeStream(id, Stream::Role::kClient, flow ? options_.window_bytes : 0);
  StreamState& state = streams_[id];
  DRPC_CHECK(state.stream == nullptr) << "client stream ID " << id << " reused";
  state.stream = stream;
  state.flow_controlled = flow;
  state.recv_window = state.recv_credit = flow ? options_.window_bytes : 0;
  writer_.AddStream(id, flow, options_.window_initial_bytes, /*local_invoke=*/true);
  // Metadata and Invoke go into the writer together: nothing (a Cancel) can come between them,
  // and a Cancel or Close queued before they are written sends nothing at all (MuxWriter).
  if (metadata.empty()) {
    writer_.WriteAsync(id, {{PacketId{id, stream->NextMessageId()}, Kind::kInvoke, rpc}});
  } else {
    const PacketId md_id{id, stream->NextMessageId()};
    const PacketId invoke_id{id, stream->NextMessageId()};
    writer_.WriteAsync(id, {{md_id, Kind::kInvokeMetadata, metadata}, {invoke_id, Kind::kInvoke, rpc}});
  }
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

// --- Server ---------------------------------------------------------------------------------------

bool MuxManager::ClaimStreamId(uint64_t id) {
  if (id > highest_stream_id_) {
    constexpr uint64_t kKept = tunables::kUnusedStreamIdsMaxCount;
    const uint64_t lowest_kept = id > kKept ? id - kKept : 1;
    for (uint64_t x = std::max(highest_stream_id_ + 1, lowest_kept); x < id; ++x) {
      unused_ids_.insert(x);
    }
    while (unused_ids_.size() > kKept) unused_ids_.erase(unused_ids_.begin());
    highest_stream_id_ = id;  // only rises
    DRPC_DCHECK(unused_ids_.empty() || *unused_ids_.rbegin() < highest_stream_id_);
    return true;
  }
  return unused_ids_.erase(id) > 0;
}

// --- Reader ---------------------------------------------------------------------------------------

absl::Status MuxManager::OnFrame(const Frame& frame) {
  if (frame.kind == Kind::kWindowUpdate) {
    OnWindowUpdate(frame);  // handled before assembly; bad ones are dropped (docs/protocol.md §11.7)
    return absl::OkStatus();
  }
  auto it = streams_.find(frame.id.stream);
  if (it != streams_.end()) return OnStreamFrame(it->second, frame);
  return OnUnknownStreamFrame(frame);
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
  uint64_t credit = 0;
  if (frame.kind == Kind::kMessage && state.flow_controlled && !ChargeFrame(state, frame, &credit)) {
    return absl::OkStatus();
  }
  absl::StatusOr<MuxAssembler::Result> r = assembler_.OnFrame(frame);
  if (!r.ok()) return AsProtocolError(r.status());
  if (auto* packet = std::get_if<Packet>(&*r)) {
    const Kind kind = packet->kind;
    absl::Status s = stream->HandlePacket(std::move(*packet), credit);
    // The packet may have finished the stream, which forgets `state`: look it up again.
    if (auto it = streams_.find(stream->id()); it != streams_.end()) CheckWindow(it->second);
    if (stream->terminated() && (kind == Kind::kError || kind == Kind::kCancel || kind == Kind::kClose)) {
      // The peer ended the stream and discards whatever we still send on it. Dropping it now also
      // frees a sender blocked on flow control (the peer grants no more credit), and keeps late
      // frames of this stream from following a newer stream's frames, which an upstream client
      // would reject (docs/protocol.md §4.2).
      // Their senders see what Send reports after such an ending (docs/protocol.md §7.4): EOF, or "closed"
      // after a Close; Recv then tells the reason.
      DiscardQueuedForPeer(*stream, kind);
    }
    return s;
  }
  if (auto* error = std::get_if<StreamAssemblyError>(&*r)) OnStreamError(*stream, error->status);
  return absl::OkStatus();
}

void MuxManager::DiscardQueuedForPeer(const Stream& stream, Kind kind) {
  writer_.DiscardQueued(stream.id(), kind == Kind::kClose ? ClosedError("remote closed the stream")
                                                          : EofError());
}

absl::Status MuxManager::OnUnknownStreamFrame(const Frame& frame) {
  const uint64_t id = frame.id.stream;
  if (frame.kind == Kind::kCancel && role() == Role::kServer && id != 0) {
    // A stream cancelled before it started never runs: a Cancel between its metadata and its
    // Invoke drops the pending metadata, and a Cancel before anything of it retires its ID, so
    // the Invoke that may still follow is dropped like a replayed one (a deterministic choice;
    // our clients never send either, see MuxWriter).
    if (ErasePending(id)) {
      env_->chaos().Reach(situations::kMuxCancelBetweenMetadataAndInvoke);
      assembler_.Forget(id);
    } else {
      env_->chaos().Reach(situations::kMuxCancelForAStreamTheServerDoesNotHave);
      ClaimStreamId(id);
    }
    return absl::OkStatus();
  }
  if (frame.kind != Kind::kInvoke && frame.kind != Kind::kInvokeMetadata) {
    return absl::OkStatus();  // unknown or finished stream: dropped
  }
  if (absl::Status s = CheckPeerMayInvoke(frame.kind, id); !s.ok()) return s;
  if (!pending_.contains(id)) {
    if (id == 0 || !ClaimStreamId(id)) return absl::OkStatus();  // replayed or reused: dropped
    if (pending_.size() >= options_.pending_invokes_max_count) {
      return ProtocolError(absl::StrCat("more than ", options_.pending_invokes_max_count,
                                        " streams are waiting for their Invoke"));
    }
    pending_.emplace(id, PendingInvoke{});
  }
  absl::StatusOr<MuxAssembler::Result> r = assembler_.OnFrame(frame);
  if (!r.ok()) return AsProtocolError(r.status());
  if (auto* packet = std::get_if<Packet>(&*r)) return OnInvokePacket(std::move(*packet));
  if (auto* error = std::get_if<StreamAssemblyError>(&*r)) {
    ErasePending(id);
    assembler_.Forget(id);
    return WriteUnregisteredError(id, error->status);
  }
  return absl::OkStatus();
}

absl::Status MuxManager::WriteUnregisteredError(uint64_t stream, const absl::Status& error) {
  auto [code, text] = ToWireError(error);
  // Message ID 1: the first packet we send on that stream.
  absl::Status s = writer_.WriteControl(
      EncodeControlPacket(PacketId{stream, 1}, Kind::kError, EncodeError(code, text), false));
  if (s.ok()) return s;
  return ProtocolError(absl::StrCat(
      "the peer keeps causing Error packets for streams it never gets to use (refused or failed "
      "Invokes) but does not read them: ", s.message()));
}

void MuxManager::Refuse(const std::shared_ptr<Stream>& stream) {
  OnStreamError(*stream, accepting_status());
}

absl::Status MuxManager::OnInvokePacket(Packet packet) {
  const uint64_t id = packet.id.stream;
  if (packet.kind == Kind::kInvokeMetadata) {
    absl::StatusOr<Metadata> md = DecodeInvokeMetadata(packet);
    if (!md.ok()) return md.status();
    StorePending(id, *std::move(md), packet.data.size());  // a second one replaces the first
    return absl::OkStatus();
  }
  Metadata metadata = TakePending(id);
  if (absl::Status s = CheckInvokedRpc(packet); !s.ok()) return s;
  if (!accepting()) {
    env_->chaos().Reach(situations::kMuxInvokeRefusedWhileShuttingDown);
    assembler_.Forget(id);
    return WriteUnregisteredError(id, accepting_status());
  }
  if (streams_.size() >= options_.concurrent_streams_max_count) {
    env_->chaos().Reach(situations::kMuxInvokeRefusedOverMaxStreams);
    assembler_.Forget(id);
    return WriteUnregisteredError(
        id, WithRemoteErrorCode(RefusedError(options_.concurrent_streams_max_count), 0));
  }
  uint64_t client_window = 0;
  if (auto it = metadata.find(kFlowWindowMetadataKey); it != metadata.end()) {
    if (!absl::SimpleAtoi(it->second, &client_window) || client_window > limits::kWindowMaxBytes) {
      client_window = 0;
    }
    metadata.erase(it);
  }
  // Flow control is the client's choice: a stream whose client announced a window is
  // flow-controlled whatever our own Options::flow_control says (the client counts on it).
  const bool flow = client_window > 0;
  // The client assumes window_initial_bytes of credit: the window is at least that.
  const uint64_t recv_window =
      flow ? std::max(options_.window_bytes, options_.window_initial_bytes) : 0;
  std::shared_ptr<Stream> stream = MakeStream(id, Stream::Role::kServer, recv_window);
  StreamState& state = streams_[id];
  DRPC_CHECK(state.stream == nullptr) << "stream ID " << id << " claimed twice";
  state.stream = stream;
  writer_.AddStream(id, flow, client_window);
  if (flow) StartFlowControl(state, recv_window);
  OfferIncoming({std::move(stream), std::move(packet.data), std::move(metadata)});
  return absl::OkStatus();
}

// --- Writer (StreamSink) -------------------------------------------------------------------------

absl::Status MuxManager::Send(Stream& stream, Kind kind, absl::string_view data, Follows follows) {
  const MuxWriter::Packet packet{PacketId{stream.id(), stream.NextMessageId()}, kind, data};
  // SendLast's message, whose CloseSend follows at once and waits for both: a small one is
  // queued (copied) without waiting, so message and CloseSend leave in one write; a large one is
  // not worth the copy and waits as usual.
  if (follows == Follows::kCloseSend && data.size() <= tunables::kUnflushedCopyMaxBytes) {
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

void MuxManager::OnStreamError(Stream& stream, const absl::Status& error) {
  if (stream.terminated()) return;
  // Tell the peer: a server fails the call with an Error, a client withdraws it with a Cancel.
  if (stream.role() == Stream::Role::kServer) {
    auto [code, text] = ToWireError(error);
    writer_.WriteTerminalAsync(stream.id(),
                               {PacketId{stream.id(), stream.NextMessageId()}, Kind::kError,
                                EncodeError(code, text), false},
                               error);
  } else {
    writer_.WriteTerminalAsync(
        stream.id(), {PacketId{stream.id(), stream.NextMessageId()}, Kind::kCancel, "", true},
        error);
  }
  stream.TerminateWithError(error);
}

void MuxManager::OnFinished(Stream& stream) {
  DRPC_CHECK(stream.terminated());
  UnwatchContext(stream);
  auto it = streams_.find(stream.id());
  if (it == streams_.end()) return;
  streams_.erase(it);
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
  for (const auto& [id, state] : streams_) streams.push_back(state.stream);
  for (const std::shared_ptr<Stream>& s : streams) {
    s->TerminateFromConnection(StreamErrorFor(s->role(), reason));
  }
  ClearPending();
}

}  // namespace drpc
