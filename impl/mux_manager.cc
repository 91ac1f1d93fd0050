#include "impl/mux_manager.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "impl/errors.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/metadata.h"
#include "proto/splitter.h"

namespace drpc {
namespace {

// Stream IDs skipped over by a newer Invoke stay usable (streams reach the wire in any order)
// up to this many; older unused IDs are retired.
constexpr size_t kUnusedIdsMax = 1024;

absl::Status AsProtocolError(const absl::Status& s) {
  absl::string_view m = s.message();
  absl::ConsumePrefix(&m, "protocol error: ");
  return ProtocolError(m);
}

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
          .streams_max_count = options.max_concurrent_streams + options.pending_invokes_max,
          .buffers = &buffer_pool()}),
      writer_(env, this->transport(),
              MuxWriter::Options{.split_bytes = options.split_bytes,
                                 .batch_bytes = options.write_batch_bytes},
              [this](const absl::Status& s) { Terminate(ClosedError("write failed", s)); },
              [this](uint64_t stream) { return TakeWindowGrant(stream); }),
      accept_waiters_(env) {}

absl::Status MuxManager::Start() {
  absl::Status writer =
      SpawnFiber(role() == Role::kClient ? "client mux writer" : "server mux writer",
                 [this] { writer_.Run(); });
  if (!writer.ok()) return writer;
  return Manager::Start();
}

MuxManager::~MuxManager() = default;

std::shared_ptr<Stream> MuxManager::MakeStream(uint64_t id, Stream::Role role,
                                               bool flow_controlled) {
  return std::make_shared<Stream>(
      *env_, static_cast<StreamSink&>(*this), id, role,
      Stream::Limits{.recv_queue_max_count = options_.recv_queue_max_count,
                     .recv_queue_max_bytes = options_.recv_queue_max_bytes,
                     .flow_controlled = flow_controlled,
                     .recv_stall_timeout = options_.recv_stall_timeout},
      &buffer_pool());
}

// --- Client ---------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<Stream>> MuxManager::NewClientStream(CallContext& ctx,
                                                                    absl::string_view rpc) {
  if (ctx.done()) return ctx.err();
  if (terminated()) return StreamErrorFor(Stream::Role::kClient, closed().status());
  if (rpc.size() > limits::kRpcNameMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("rpc name of ", rpc.size(), " bytes exceeds ",
                                                   limits::kRpcNameMaxBytes));
  }
  Metadata md = ctx.metadata();
  const bool flow = options_.flow_control;
  if (flow) md[kFlowWindowMetadataKey] = absl::StrCat(options_.window_bytes);
  // Encode before taking a stream ID: a failure leaves nothing behind (spec §9.1).
  const std::string metadata = EncodeMetadata(md);
  if (metadata.size() > limits::kMetadataMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata of ", metadata.size(),
                                                   " bytes exceeds ", limits::kMetadataMaxBytes));
  }
  const uint64_t id = ++last_client_stream_id_;
  std::shared_ptr<Stream> stream = MakeStream(id, Stream::Role::kClient, flow);
  StreamState& state = streams_[id];
  state.stream = stream;
  state.flow_controlled = flow;
  state.recv_window = state.recv_credit = flow ? options_.window_bytes : 0;
  writer_.AddStream(id, flow, options_.initial_window_bytes, /*local_invoke=*/true);
  // Metadata and Invoke go into the writer together: nothing (a Cancel) can come between them,
  // and a Cancel or Close queued before they are written sends nothing at all (MuxWriter).
  if (metadata.empty()) {
    writer_.WriteAsync(id, {{PacketId{id, stream->NextMessageId()}, Kind::kInvoke, rpc}});
  } else {
    const PacketId md_id{id, stream->NextMessageId()};
    const PacketId invoke_id{id, stream->NextMessageId()};
    writer_.WriteAsync(id, {{md_id, Kind::kInvokeMetadata, metadata}, {invoke_id, Kind::kInvoke, rpc}});
  }
  state.ctx = &ctx;
  state.ctx_callback = ctx.done_signal().OnSet(
      [this, id](const absl::Status& reason) { OnContextDone(id, reason); });
  return stream;
}

void MuxManager::OnContextDone(uint64_t stream_id, const absl::Status& reason) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  it->second.ctx_callback = 0;
  it->second.ctx = nullptr;
  RunNowOrLate("mux.notice_cancel_late", [this, stream_id, reason] {
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.stream->terminated()) return;
    std::shared_ptr<Stream> stream = it->second.stream;
    // Soft cancel, always: a Cancel packet ahead of the stream's queued data, then the local
    // cancel. Other streams are untouched.
    writer_.WriteTerminalAsync(
        stream_id, {PacketId{stream_id, stream->NextMessageId()}, Kind::kCancel, "", true}, reason);
    stream->Cancel(reason);
  });
}

// --- Server ---------------------------------------------------------------------------------------

absl::StatusOr<IncomingStream> MuxManager::AcceptStream(Instant deadline) {
  for (;;) {
    while (!accept_queue_.empty()) {
      IncomingStream in = std::move(accept_queue_.front());
      accept_queue_.pop_front();
      if (!in.stream->terminated()) return in;  // cancelled before anyone accepted it
    }
    if (terminated()) return closed().status();
    if (!accepting()) return accepting_status();
    if (!accept_waiters_.Wait("server: waiting for an Invoke", deadline)) {
      return absl::DeadlineExceededError("inactivity timeout: no Invoke arrived in time");
    }
  }
}

bool MuxManager::ClaimStreamId(uint64_t id) {
  if (id > highest_stream_id_) {
    const uint64_t lowest_kept = id > kUnusedIdsMax ? id - kUnusedIdsMax : 1;
    for (uint64_t x = std::max(highest_stream_id_ + 1, lowest_kept); x < id; ++x) {
      unused_ids_.insert(x);
    }
    while (unused_ids_.size() > kUnusedIdsMax) unused_ids_.erase(unused_ids_.begin());
    highest_stream_id_ = id;
    return true;
  }
  return unused_ids_.erase(id) > 0;
}

// --- Reader ---------------------------------------------------------------------------------------

absl::Status MuxManager::OnFrame(const Frame& frame) {
  if (frame.kind == Kind::kWindowUpdate) {
    OnWindowUpdate(frame);  // handled before assembly; bad ones are dropped (spec §11.7)
    return absl::OkStatus();
  }
  auto it = streams_.find(frame.id.stream);
  if (it != streams_.end()) return OnStreamFrame(it->second, frame);
  return OnUnknownStreamFrame(frame);
}

absl::Status MuxManager::OnStreamFrame(StreamState& state, const Frame& frame) {
  std::shared_ptr<Stream> stream = state.stream;
  if (stream->terminated()) {
    env_->chaos().Reach("mux.frame_for_an_ended_stream");
    // The stream is over here, but what we sent on it may still be queued: a reply queued with
    // its CloseSend ends the stream locally before it is written. A peer that then cancels (or
    // closes, or errs) discards it, and an upstream client that has moved on to its next stream
    // would take its late frames for a protocol error (spec §4.2), so it is dropped now.
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
    if (stream->terminated() && (kind == Kind::kError || kind == Kind::kCancel || kind == Kind::kClose)) {
      // The peer ended the stream and discards whatever we still send on it. Dropping it now also
      // frees a sender blocked on flow control (the peer grants no more credit), and keeps late
      // frames of this stream from following a newer stream's frames, which an upstream client
      // would reject (spec §4.2).
      // Their senders see what Send reports after such an ending (spec §7.4): EOF, or "closed"
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
    if (pending_.erase(id) > 0) {
      env_->chaos().Reach("mux.cancel_between_metadata_and_invoke");
      assembler_.Forget(id);
    } else {
      env_->chaos().Reach("mux.cancel_for_a_stream_the_server_does_not_have");
      ClaimStreamId(id);
    }
    return absl::OkStatus();
  }
  if (frame.kind != Kind::kInvoke && frame.kind != Kind::kInvokeMetadata) {
    return absl::OkStatus();  // unknown or finished stream: dropped
  }
  if (role() == Role::kClient) {
    return ProtocolError(absl::StrCat("server sent ", KindName(frame.kind), " for stream ", id));
  }
  if (!pending_.contains(id)) {
    if (id == 0 || !ClaimStreamId(id)) return absl::OkStatus();  // replayed or reused: dropped
    if (pending_.size() >= options_.pending_invokes_max) {
      return ProtocolError(absl::StrCat("more than ", options_.pending_invokes_max,
                                        " streams are waiting for their Invoke"));
    }
    pending_.emplace(id, Metadata{});
  }
  absl::StatusOr<MuxAssembler::Result> r = assembler_.OnFrame(frame);
  if (!r.ok()) return AsProtocolError(r.status());
  if (auto* packet = std::get_if<Packet>(&*r)) return OnInvokePacket(std::move(*packet));
  if (auto* error = std::get_if<StreamAssemblyError>(&*r)) {
    pending_.erase(id);
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

void MuxManager::RefuseQueued() {
  for (IncomingStream& in : accept_queue_) OnStreamError(*in.stream, accepting_status());
  accept_queue_.clear();
  accept_waiters_.WakeAll();
}

absl::Status MuxManager::OnInvokePacket(Packet packet) {
  const uint64_t id = packet.id.stream;
  if (packet.kind == Kind::kInvokeMetadata) {
    absl::StatusOr<Metadata> md = DecodeMetadata(packet.data);
    if (!md.ok()) return ProtocolError(absl::StrCat("stream ", id, ": ", md.status().message()));
    pending_[id] = *std::move(md);  // a second metadata packet replaces the first
    return absl::OkStatus();
  }
  Metadata metadata = std::move(pending_[id]);
  pending_.erase(id);
  if (packet.data.size() > limits::kRpcNameMaxBytes) {
    return ProtocolError(absl::StrCat("rpc name of ", packet.data.size(), " bytes on stream ", id));
  }
  if (!accepting()) {
    env_->chaos().Reach("mux.invoke_refused_while_shutting_down");
    assembler_.Forget(id);
    return WriteUnregisteredError(id, accepting_status());
  }
  if (streams_.size() >= options_.max_concurrent_streams) {
    env_->chaos().Reach("mux.invoke_refused_over_max_streams");
    assembler_.Forget(id);
    return WriteUnregisteredError(id,
                                  WithRemoteErrorCode(RefusedError(options_.max_concurrent_streams), 0));
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
  std::shared_ptr<Stream> stream = MakeStream(id, Stream::Role::kServer, flow);
  StreamState& state = streams_[id];
  state.stream = stream;
  writer_.AddStream(id, flow, client_window);
  if (flow) StartFlowControl(state, options_.window_bytes);
  accept_queue_.push_back({std::move(stream), std::move(packet.data), std::move(metadata)});
  accept_waiters_.WakeOne();
  return absl::OkStatus();
}

// --- Writer (StreamSink) -------------------------------------------------------------------------

absl::Status MuxManager::SendPacket(Stream& stream, Kind kind, absl::string_view data, bool flush) {
  const MuxWriter::Packet packet{PacketId{stream.id(), stream.NextMessageId()}, kind, data};
  // Not flushed: SendLast's message, whose CloseSend follows at once and waits for both. A small
  // one is queued (copied) without waiting, so message and CloseSend leave in one write; a large
  // one is not worth the copy and waits as usual.
  if (!flush && data.size() <= limits::kUnflushedCopyMaxBytes) return writer_.WriteQueued(stream.id(), packet);
  return writer_.Write(stream.id(), {packet});
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
  auto it = streams_.find(stream.id());
  if (it == streams_.end()) return;
  if (it->second.ctx != nullptr && it->second.ctx_callback != 0) {
    it->second.ctx->done_signal().RemoveCallback(it->second.ctx_callback);
  }
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
  pending_.clear();
  accept_waiters_.WakeAll();
}

}  // namespace drpc
