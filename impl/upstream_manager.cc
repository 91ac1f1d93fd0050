#include "impl/upstream_manager.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/situations.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/metadata.h"
#include "proto/splitter.h"

namespace drpc {

UpstreamManager::UpstreamManager(Env& env, std::unique_ptr<Transport> transport, Role role,
                                 const Options& options)
    : Manager(env, std::move(transport), role, options),
      assembler_(UpstreamAssembler::Options{.packet_max_bytes = options.packet_max_bytes,
                                            .buffers = &buffer_pool()}),
      write_mu_(env, "connection write lock"),
      flush_wanted_(env),
      terminal_writes_done_(env) {
  DRPC_CHECK(!options.mux);
}

UpstreamManager::~UpstreamManager() = default;

// --- Client ---------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<Stream>> UpstreamManager::OpenClientStream(CallContext& ctx,
                                                                          absl::string_view rpc,
                                                                          std::string metadata) {
  // One stream at a time: wait until the previous one finished and its Cancel, if any, is out.
  // Both conditions are checked together: the previous stream can be soft-cancelled while we wait
  // for it to finish, and its Cancel must then still reach the wire before our Invoke.
  for (;;) {
    if (ctx.done()) return ctx.err();
    if (terminated()) return StreamErrorFor(Stream::Role::kClient, closed().status());
    if (terminal_writes_in_flight_ > 0) {
      env_->chaos().Reach(situations::kUpstreamNextStreamWaitedForACancelToBeWritten);
      terminal_writes_done_.Wait("client: waiting for a soft cancel to be written");
      continue;
    }
    if (current_ == nullptr || current_->finished()) break;
    std::shared_ptr<Stream> previous = current_;
    WaitAny({&previous->finished_signal(), &ctx.done_signal(), &closed()},
            "client: waiting for the previous stream to finish");
  }
  if (terminated()) return StreamErrorFor(Stream::Role::kClient, closed().status());
  // A finished stream is terminated: nothing of it can reach the wire any more.
  DRPC_CHECK(current_ == nullptr || current_->terminated());

  std::shared_ptr<Stream> stream = MakeStream(++last_client_stream_id_, Stream::Role::kClient);
  current_ = stream;
  {
    // Corked: the metadata and Invoke wait in the buffer for the stream's first Send/Recv/close,
    // however large the metadata. Opening never writes: a write blocked here would hold the call
    // before its context is watched, deaf to a cancel until the peer reads.
    MutexLock lock(write_mu_);
    // The context is not watched yet: a cancel while this fiber waited for the lock (held by a
    // write the peer may block for long) is heard here. Nothing of the stream was buffered.
    if (ctx.done()) {
      stream->Cancel(ctx.err());
      return ctx.err();
    }
    // Bytes still buffered belong to earlier streams and never reached the wire (a corked Invoke
    // whose stream was cancelled, a message whose CloseSend never came): like Go's writer reset
    // on stream creation, they are discarded rather than sent ahead of this stream (§13 item 19).
    write_buffer_.clear();
    corked_stream_ = stream->id();
    absl::Status s;
    if (!metadata.empty()) {
      s = AppendLocked(*stream, Kind::kInvokeMetadata, metadata, false, FlushMode::kNone);
    }
    // Copied into the write buffer: its buffer serves the next stream's metadata.
    KeepInvokeMetadataBuffer(std::move(metadata));
    if (s.ok()) s = AppendLocked(*stream, Kind::kInvoke, rpc, false, FlushMode::kNone);
    if (!s.ok()) {
      stream->TerminateFromConnection(s);
      return s;
    }
  }
  WatchContext(ctx, stream, "upstream.notice_cancel_late");
  return stream;
}

// docs/protocol.md §7.7: what cancelling an active call does in upstream mode. Runs inside whatever cancelled
// the context, so it must not block: the stream is cancelled at once, and a soft cancel's packet
// is written by a fiber of its own.
void UpstreamManager::OnContextDone(const std::shared_ptr<Stream>& stream,
                                    const absl::Status& reason) {
  if (stream->finished() || terminated()) return;
  // A call that already ended on the wire (both sides closed, or a Close, Error or Cancel went
  // either way) is only cancelled locally: the peer has nothing left to be told. With a write in
  // progress, the ending may be that very write, blocked: then it has not reached the wire.
  const bool write_in_progress = write_mu_.held();
  const bool ended_on_the_wire = stream->terminated() && !write_in_progress;
  stream->Cancel(reason);
  if (ended_on_the_wire) return;
  if (!write_in_progress && corked_stream_ == stream->id()) {
    // Nothing of the stream reached the wire, so the peer never heard of it: drop its corked
    // bytes and send nothing, in either cancel mode. No fiber holds write_mu_, and none runs while
    // this does, so the buffer can be touched without taking it (this may run outside a fiber).
    env_->chaos().Reach(situations::kUpstreamCancelOfACorkedStreamSentNothing);
    DiscardIfCorkedLocked(*stream);
    return;
  }
  if (options_.soft_cancel && !write_in_progress) {
    WriteTerminalAsync(stream, Kind::kCancel, "", /*control=*/true);
    return;
  }
  // Hard cancel, or a soft cancel that found a write in progress (Go's "busy"): the peer is in the
  // middle of the call, and closing the connection is the only way left to tell it (docs/protocol.md §7.7).
  // Checking "finished" only after Cancel would be wrong: Cancel itself finishes an idle stream.
  env_->chaos().Reach(options_.soft_cancel ? situations::kUpstreamSoftCancelFoundAWriteInProgress
                                           : situations::kUpstreamHardCancelClosedTheConnection);
  Terminate(ClosedError(options_.soft_cancel
                            ? "connection closed: soft cancel found a write in progress"
                            : "connection closed by a hard cancel",
                        reason));
}

void UpstreamManager::WriteTerminalAsync(std::shared_ptr<Stream> stream, Kind kind,
                                         std::string data, bool control) {
  ++terminal_writes_in_flight_;
  terminal_stream_ = stream->id();
  absl::Status spawned = SpawnFiber(
      absl::StrCat("write ", KindName(kind), " for stream ", stream->id()),
      [this, stream, kind, data = std::move(data), control] {
        absl::Status s;
        {
          MutexLock lock(write_mu_);
          if (discarded_stream_ != stream->id() && !DiscardIfCorkedLocked(*stream)) {
            s = AppendLocked(*stream, kind, data, control, FlushMode::kNow);
          }
        }
        --terminal_writes_in_flight_;
        terminal_writes_done_.WakeAll();
        if (!s.ok()) {
          Terminate(ClosedError(
              absl::StrCat("connection closed: sending ", KindName(kind), " failed"), s));
        }
      });
  if (spawned.ok()) return;
  // No fiber to write the packet (out of stacks): closing the connection is the one way left to
  // tell the peer, as a hard cancel does.
  --terminal_writes_in_flight_;
  terminal_writes_done_.WakeAll();
  Terminate(ClosedError(
      absl::StrCat("connection closed: no fiber to send ", KindName(kind), " for stream ",
                   stream->id()),
      spawned));
}

bool UpstreamManager::DiscardIfCorkedLocked(const Stream& stream) {
  if (corked_stream_ == 0 || corked_stream_ != stream.id()) return false;
  // Nothing of this stream reached the wire: the peer never heard of it, so nothing is sent for
  // it at all (a Cancel or Close before its Invoke would be a packet for an unknown stream).
  write_buffer_.clear();
  corked_stream_ = 0;
  discarded_stream_ = stream.id();
  return true;
}

// --- Server ---------------------------------------------------------------------------------------

void UpstreamManager::BeforeAccept() {
  while (terminal_writes_in_flight_ > 0 && !terminated()) {
    terminal_writes_done_.Wait("server: waiting for an Error to be written");
  }
}

// --- Reader ---------------------------------------------------------------------------------------

// Inline in OnFrame: every frame passes here.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status UpstreamManager::OnPacket(Packet&& packet) {
  if (current_ != nullptr && packet.id.stream == current_->id()) {
    std::shared_ptr<Stream> stream = current_;  // HandlePacket may block; keep it alive
    return stream->HandlePacket(std::move(packet));
  }
  if (current_ != nullptr && packet.id.stream < current_->id()) return absl::OkStatus();
  return OnNewStreamPacket(std::move(packet));
}

absl::Status UpstreamManager::OnFrame(const Frame& frame) {
  // The common frame, a whole packet, skips OnFrame's result wrapper.
  if (Packet whole; assembler_.TakeWholePacket(frame, whole)) return OnPacket(std::move(whole));
  absl::StatusOr<std::optional<Packet>> packet = assembler_.OnFrame(frame, lent_frame_buffer());
  if (!packet.ok()) return AsProtocolError(packet.status());
  if (!packet->has_value()) return absl::OkStatus();
  return OnPacket(std::move(**packet));
}

absl::Status UpstreamManager::OnNewStreamPacket(Packet&& packet) {
  if (packet.kind != Kind::kInvoke && packet.kind != Kind::kInvokeMetadata) {
    // Go waits here for a stream only the reader could create and wedges (docs/protocol.md §13 item 1); a
    // packet for a stream that does not exist yet is dropped instead.
    return absl::OkStatus();
  }
  if (absl::Status s = CheckPeerMayInvoke(packet.kind, packet.id.stream); !s.ok()) return s;
  // A new RPC implicitly ends the previous one (docs/protocol.md §8.2 step 3).
  if (current_ != nullptr && !current_->terminated()) {
    env_->chaos().Reach(situations::kUpstreamNewInvokeCancelledTheCurrentStream);
    current_->Cancel(CanceledError());
  }
  if (packet.kind == Kind::kInvokeMetadata) {
    // A second metadata packet replaces the first.
    pending_metadata_stream_.reset();
    if (absl::Status s = DecodeInvokeMetadataInto(packet, pending_metadata_); !s.ok()) return s;
    pending_metadata_stream_ = packet.id.stream;
    // Decoded: its buffer carries the Invoke that follows (the assembler takes from the pool).
    buffer_pool().Give(std::move(packet.data));
    return absl::OkStatus();
  }
  if (absl::Status s = CheckInvokedRpc(packet); !s.ok()) return s;
  // The pending metadata goes with this stream if it was sent for it, else it is dropped.
  const bool with_metadata = pending_metadata_stream_ == packet.id.stream;
  pending_metadata_stream_.reset();
  if (!with_metadata) pending_metadata_.clear();
  // The reader checked monotonicity: a new stream's ID is above the current one's.
  DRPC_DCHECK(current_ == nullptr || packet.id.stream > current_->id());
  std::shared_ptr<Stream> stream =
      MakeStream(packet.id.stream, Stream::Role::kServer);
  current_ = stream;
  DropOfferedIncoming();  // anything still queued was just cancelled by this Invoke
  OfferIncoming(std::move(stream), std::move(packet.data), std::move(pending_metadata_));
  pending_metadata_.clear();  // moved from (or refused): empty for the next decode
  return absl::OkStatus();
}

void UpstreamManager::Refuse(const std::shared_ptr<Stream>& stream) {
  const uint64_t id = stream->id();
  absl::Status spawned = SpawnFiber(absl::StrCat("refuse stream ", id), [this, stream] {
    stream->SendError(accepting_status()).IgnoreError();
    stream->StopReceiving();
  });
  if (!spawned.ok()) {
    // No fiber to write the Error (out of stacks): the connection ends instead of leaving the
    // client waiting for an answer.
    Terminate(ClosedError(absl::StrCat("connection closed: no fiber to refuse stream ", id),
                          spawned));
  }
}

// --- Writer (StreamSink) -------------------------------------------------------------------------

absl::Status UpstreamManager::AppendLocked(Stream& stream, Kind kind, absl::string_view data,
                                           bool control, FlushMode flush) {
  if (!writer_error_.ok()) return writer_error_;
  if (flush != FlushMode::kNone && data.size() >= tunables::kGatherWriteMinBytes &&
      IsSplittableKind(kind) &&
      (flush == FlushMode::kNow ||
       write_buffer_.size() + PacketWireSize(PacketId{stream.id(), stream.PeekNextMessageId()},
                                             kind, data.size(), options_.split_bytes) >=
           options_.write_buffer_bytes)) {
    // A large packet that would be flushed at once anyway (the buffer is then full, so no chaos
    // decision is drawn either way): send the buffered bytes, its frame headers and slices of
    // `data` in one gathering write instead of copying `data` into the buffer. The same bytes
    // reach the transport in the same single call.
    return WriteGatherLocked(stream, kind, data, control);
  }
  const PacketId id{stream.id(), stream.NextMessageId()};
  CheckRisingLocked(id);
  AppendPacket(write_buffer_, id, kind, data, control, options_.split_bytes);
  // A deferred message waits for more up to a larger buffer: the flusher writes it soon anyway.
  const size_t full_bytes = flush == FlushMode::kDeferred
                                ? std::max(options_.write_buffer_bytes,
                                           tunables::kWriteCoalesceMaxBytes)
                                : options_.write_buffer_bytes;
  // Chaos: flush before the buffer fills, so write boundaries fall anywhere in simulation.
  if (flush == FlushMode::kNow ||
      ((flush == FlushMode::kIfFull || flush == FlushMode::kDeferred) &&
       (write_buffer_.size() >= full_bytes || env_->chaos().Buggify("upstream.flush_early")))) {
    return FlushLocked();
  }
  if (flush == FlushMode::kDeferred) return WantFlushLocked();
  return absl::OkStatus();
}

absl::Status UpstreamManager::WantFlushLocked() {
  DRPC_DCHECK(write_mu_.HeldByCurrent());
  if (WakeFlusher()) return absl::OkStatus();
  return FlushLocked();  // no fiber stack for it: write now, as if nothing were deferred
}

bool UpstreamManager::WakeFlusher() {
  if (flush_pending_) return true;
  if (!flusher_started_) {
    if (!SpawnFiber("conn flusher", [this] { FlusherLoop(); }).ok()) return false;
    flusher_started_ = true;
  }
  flush_pending_ = true;
  flush_wanted_.WakeOne();
  return true;
}

void UpstreamManager::FlusherLoop() {
  for (;;) {
    while (!flush_pending_ && writer_error_.ok()) {
      flush_wanted_.Wait("conn flusher: waiting for buffered messages");
    }
    if (!writer_error_.ok()) return;
    MutexLock lock(write_mu_);
    flush_pending_ = false;
    // A failed write terminates the connection (FlushLocked); the loop then ends.
    FlushLocked().IgnoreError();
  }
}

absl::Status UpstreamManager::WriteGatherLocked(Stream& stream, Kind kind,
                                                absl::string_view data, bool control) {
  const PacketId id{stream.id(), stream.NextMessageId()};
  CheckRisingLocked(id);
  PacketSplitter splitter(id, kind, data, control, options_.split_bytes);
  // Headers first (the string must not move while views into it are taken), then the pieces.
  const size_t frames = (data.size() + options_.split_bytes - 1) / options_.split_bytes;
  std::string headers;
  headers.reserve(frames * limits::kFrameHeaderMaxBytes);
  std::vector<std::pair<size_t, absl::string_view>> slices;  // header end offset, data slice
  slices.reserve(frames);
  while (!splitter.done()) {
    const absl::string_view slice = splitter.AppendNextFrameHeader(headers);
    slices.emplace_back(headers.size(), slice);
  }
  std::vector<absl::string_view> pieces;
  pieces.reserve(2 * slices.size() + 1);
  if (!write_buffer_.empty()) pieces.push_back(write_buffer_);
  size_t header_start = 0;
  for (const auto& [header_end, slice] : slices) {
    pieces.push_back(absl::string_view(headers).substr(header_start, header_end - header_start));
    pieces.push_back(slice);
    header_start = header_end;
  }
  corked_stream_ = 0;  // from here on the bytes may be on the wire
  const absl::Status s = transport().WriteV(pieces);
  write_buffer_.clear();
  if (!s.ok()) return OnWriteFailed(s);
  return absl::OkStatus();
}

absl::Status UpstreamManager::OnWriteFailed(const absl::Status& s) {
  // A write that failed because the connection had already ended (its transport closed by the
  // reader's fault, a shutdown, Close) reports why the connection ended, not its own symptom.
  writer_error_ = terminated() ? StreamErrorFor(Stream::Role::kClient, closed().status())
                               : ClosedError("connection closed: write failed", s);
  Terminate(s);
  return writer_error_;
}

size_t UpstreamManager::WriterSpareBytes() const {
  // Only an empty buffer no fiber is writing from (a corked Invoke waits in it, a write may be
  // in progress under the lock).
  if (write_mu_.held() || !write_buffer_.empty() ||
      write_buffer_.capacity() <= tunables::kWriteBufferDefaultBytes) {
    return 0;
  }
  return write_buffer_.capacity();
}

size_t UpstreamManager::ReleaseWriterSpare() {
  const size_t spare = WriterSpareBytes();
  if (spare > 0) std::string().swap(write_buffer_);
  return spare;
}

absl::Status UpstreamManager::FlushLocked() {
  if (!writer_error_.ok()) return writer_error_;
  if (write_buffer_.empty()) return absl::OkStatus();
  corked_stream_ = 0;  // from here on the bytes may be on the wire
  const absl::Status s = transport().Write(write_buffer_);
  if (write_buffer_.capacity() > tunables::kWriteBufferKeepMaxBytes) {
    std::string().swap(write_buffer_);
  } else {
    write_buffer_.clear();
  }
  if (!s.ok()) return OnWriteFailed(s);
  return absl::OkStatus();
}

absl::Status UpstreamManager::Send(Stream& stream, Kind kind, absl::string_view data,
                                   Follows follows) {
  MutexLock lock(write_mu_);
  return SendLocked(stream, kind, data, follows);
}

absl::Status UpstreamManager::SendLast(Stream& stream, absl::string_view data,
                                       absl::FunctionRef<bool()> close_send) {
  MutexLock lock(write_mu_);
  absl::Status s = SendLocked(stream, Kind::kMessage, data, Follows::kCloseSend);
  if (!s.ok() || !close_send()) return s;
  // Whatever an Unlock and a Lock between the two sends would let in (a waiting writer, a chaos
  // yield) still runs here, and sees the message buffered: the same writes, in the same order.
  write_mu_.Relock();
  return SendLocked(stream, Kind::kCloseSend, "", Follows::kNothing);
}

absl::Status UpstreamManager::SendLocked(Stream& stream, Kind kind, absl::string_view data,
                                         Follows follows) {
  DRPC_DCHECK(write_mu_.HeldByCurrent());
  // Cancelled while this fiber was on its way to the lock (it may wait or yield there): nothing
  // more of the stream may reach the wire. If its Invoke was dropped unsent, the peer never saw
  // the stream; otherwise the cancel's own packet (or the closed connection) ends it, and a
  // message or CloseSend after a Cancel breaks the protocol.
  if (discarded_stream_ == stream.id()) {
    env_->chaos().Reach(situations::kUpstreamSendAfterItsCorkedInvokeWasDropped);
    return CanceledError();
  }
  if (stream.cancelled_locally()) {
    env_->chaos().Reach(situations::kUpstreamSendAfterItsStreamWasCancelled);
    return CanceledError();
  }
  if (terminal_stream_ == stream.id()) {
    // Failed meanwhile by the reader: its Error (or Cancel) is written or on its way, and
    // nothing of the stream may follow it.
    env_->chaos().Reach(situations::kUpstreamSendAfterItsStreamFailed);
    return stream.termination_error();
  }
  // A packet the stream's CloseSend follows at once stays in the buffer for it (one write). A
  // message is left to the flusher: more may follow before the sender waits. Anything else (a
  // CloseSend) goes out now.
  FlushMode flush = FlushMode::kNow;
  if (follows == Follows::kCloseSend) {
    // Unless the stream ended while this fiber waited for the lock: its CloseSend is then a
    // no-op, and nothing else would write the message out.
    flush = stream.terminated() ? FlushMode::kNow : FlushMode::kIfFull;
  } else if (kind == Kind::kMessage) {
    flush = FlushMode::kDeferred;
  }
  return AppendLocked(stream, kind, data, /*control=*/false, flush);
}

absl::Status UpstreamManager::SendTerminal(Stream& stream, Kind kind, absl::string_view data,
                                           const absl::Status&) {
  MutexLock lock(write_mu_);
  if (discarded_stream_ == stream.id()) {
    env_->chaos().Reach(situations::kUpstreamSendAfterItsCorkedInvokeWasDropped);
    return absl::OkStatus();  // the peer never heard of the stream: nothing to end
  }
  if (DiscardIfCorkedLocked(stream)) return absl::OkStatus();
  return AppendLocked(stream, kind, data, /*control=*/false, FlushMode::kNow);
}

absl::Status UpstreamManager::OnFirstRecv(Stream& stream) {
  // The corked Invoke must go out (the peer cannot answer it otherwise), but not by this fiber:
  // a receiver waiting for the write lock, or in a write itself, leaves its queue undrained while
  // the peer is not reading, and the peer may not be reading because it waits for that queue (a
  // concurrent sender holds the lock in a write the peer's full buffers block; the peer's reader
  // waits for its handler, which waits to write to our reader, which waits for this receiver).
  // Once the Invoke is out of the cork, whatever is still buffered has a writer already: the
  // flusher or the CloseSend that follows.
  if (!writer_error_.ok()) return writer_error_;
  if (corked_stream_ != stream.id()) return absl::OkStatus();  // a server's, or written already
  if (WakeFlusher()) return absl::OkStatus();
  MutexLock lock(write_mu_);  // no fiber stack for the flusher: write it here after all
  return FlushLocked();
}

void UpstreamManager::OnConsumed(Stream& stream, uint64_t credit) {
  DRPC_CHECK(false) << "upstream stream " << stream.id() << " handed back " << credit
                    << " bytes of credit: upstream streams are never flow-controlled";
}

// A stream-scoped failure found by the reader (a receive queue nobody empties). The reader must
// not block on the transport, so the packet that tells the peer is written by a fiber, and the
// next stream waits for it (the peer must see it before anything of a newer stream).
void UpstreamManager::OnStreamError(Stream& stream, const absl::Status& error) {
  if (stream.terminated()) return;
  std::shared_ptr<Stream> keep = current_.get() == &stream ? current_ : nullptr;
  stream.TerminateWithError(error);
  if (keep == nullptr) return;
  if (stream.role() == Stream::Role::kServer) {
    WriteTerminalAsync(std::move(keep), Kind::kError,
                       ErrorBodyFor(options_.ErrorFormatOrDefault(), error), false);
  } else if (options_.soft_cancel) {
    WriteTerminalAsync(std::move(keep), Kind::kCancel, "", /*control=*/true);
  } else {
    // The configured cancel behaviour of this connection: a hard cancel closes it.
    Terminate(ClosedError("connection closed by a hard cancel", error));
  }
}

void UpstreamManager::OnFinished(Stream& stream) {
  DRPC_CHECK(stream.terminated());
  UnwatchContext(stream);
}

// --- Termination ----------------------------------------------------------------------------------

void UpstreamManager::StopWriter(const absl::Status& reason) {
  // A fiber may be inside transport().Write(write_buffer_): the buffer is left alone; the closed
  // transport makes that write fail, and every later append fails here.
  if (writer_error_.ok()) writer_error_ = ClosedError("connection closed", reason);
  flush_wanted_.WakeAll();  // the flusher ends
}

bool UpstreamManager::ShedLargestHolder(const absl::Status& why) {
  if (current_ == nullptr || current_->terminated()) return false;
  // The packet being assembled is the current stream's when it carries its ID (a newer Invoke's
  // would belong to the next stream, which does not exist yet).
  const size_t assembling =
      assembler_.partial_bytes() > 0 && assembler_.last().stream == current_->id()
          ? assembler_.partial_bytes()
          : 0;
  const size_t held = current_->queued_bytes() + assembling;
  if (held == 0) return false;
  OnStreamError(*current_,
                absl::ResourceExhaustedError(absl::StrCat(why.message(), "; stream ",
                                                          current_->id(), " held ", held,
                                                          " of them")));
  return true;
}

void UpstreamManager::EndStreamsStillReceiving(const absl::Status& reason) {
  pending_metadata_stream_.reset();
  pending_metadata_.clear();
  if (current_ != nullptr && !current_->terminated() && !current_->peer_send_closed()) {
    current_->TerminateFromConnection(reason);
  }
}

void UpstreamManager::TerminateStreams(const absl::Status& reason) {
  terminal_writes_done_.WakeAll();
  if (current_ != nullptr && !current_->terminated()) {
    current_->TerminateFromConnection(StreamErrorFor(current_->role(), reason));
  }
}

}  // namespace drpc
