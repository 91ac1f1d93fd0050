#include "impl/manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "impl/errors.h"
#include "impl/read_sizer.h"
#include "impl/situations.h"
#include "impl/trim_throttle.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/limits.h"

namespace drpc {

Manager::Manager(Env& env, std::unique_ptr<Transport> transport, Role role, const Options& options)
    : env_(&env),
      options_(options),
      buffers_(std::make_shared<ConnectionBuffers>(
          env, ConnectionBuffers::Limits{
                   .max_bytes = options.connection_buffered_max_bytes,
                   .reserved_bytes = options.connection_buffered_reserved_bytes})),
      transport_(std::move(transport)),
      role_(role),
      closed_(env),
      fibers_(env),
      accept_waiters_(env) {
  DRPC_DCHECK_OK(options_.Validate());
  DRPC_CHECK(transport_ != nullptr);
  buffers_->set_on_empty([this] {
    if (idle()) BeginIdle(env_->clock().Now());
  });
}

Manager::~Manager() {
  DRPC_CHECK(closed_.IsSet()) << "Manager destroyed without Close()";
  DRPC_CHECK_EQ(fibers_.count(), 0) << "Manager destroyed while its fibers run";
  buffers_->set_on_empty(nullptr);  // streams may keep the budget a while longer
  // Terminate ended every stream it knew of, those waiting to be accepted included.
  for (const IncomingStream& in : accept_queue_) DRPC_CHECK(in.stream->terminated());
}

absl::Status Manager::SpawnFiber(std::string name, absl::AnyInvocable<void()> body) {
  fibers_.Add();
  absl::Status spawned =
      env_->scheduler().Spawn(std::move(name), [this, body = std::move(body)]() mutable {
        body();
        fibers_.Done();
      });
  if (!spawned.ok()) fibers_.Done();
  return spawned;
}

absl::Status Manager::Start() {
  return SpawnFiber(role_ == Role::kClient ? "client conn reader" : "server conn reader",
                    [this] { ReadLoop(); });
}

void Manager::AttachServerBuffers(ServerBuffers* server) { buffers_->AttachServer(server); }

void Manager::ReadLoop() {
  // Upstream: a frame over the packet limit is Go's connection-fatal "data overflow". Mux: the
  // message limit is per stream, whatever the framing: a frame over it is reported with its data
  // skipped (never buffered), and only its stream fails (docs/protocol.md §15.4).
  FrameParser parser(FrameParser::Options{
      .frame_data_max_bytes = options_.mux ? options_.MuxMessageMaxBytes()
                                           : options_.packet_max_bytes,
      .skip_oversize_data = options_.mux});
  read_parser_ = &parser;
  struct Unpublish {
    const FrameParser*& parser;
    ~Unpublish() { parser = nullptr; }
  } unpublish{read_parser_};
  ReadState state{.sizer = ReadSizer(tunables::kReadMinBytes, tunables::kReadMaxBytes)};
  while (MakeRoom()) {
    // Bytes a straight read brought in after its frame are handled before anything is read.
    if (!std::exchange(state.carried, false) && !ReadIntoParser(parser, state)) return;
    const uint64_t offset = parser.offset();
    if (!HandleFrames(parser)) return;
    // A frame completed: the wait for the next one starts now.
    if (parser.offset() != offset) state.waited = Duration::Zero();
    if (!ReadFrameDataDirect(parser, state)) return;
    AfterRead(parser);
  }
}

bool Manager::ReadIntoParser(FrameParser& parser, ReadState& state) {
  // A server's first frame is bounded by first_frame_timeout however its bytes arrive (a client
  // dribbling a header at 1 B/s holds no slot past it); later frames by frame_timeout.
  if (!saw_frame_ && role_ == Role::kServer) {
    ArmReadTimer(options_.first_frame_timeout, state.waited, "first frame");
  } else if (parser.buffered_bytes() > 0) {
    ArmReadTimer(options_.frame_timeout, state.waited, "frame");
  }
  reading_between_frames_ = parser.buffered_bytes() == 0;
  // Between frames, after a read that drained the socket (it came back short: the peer has
  // paused), the read goes into a small buffer: all a connection keeps while it waits for its
  // next call. Bulk transfer, whose reads come back full, keeps its large reads.
  const bool small_read = reading_between_frames_ && state.drained;
  if (small_read) parser_freed_bytes_ += parser.Shrink(tunables::kReadIdleBytes);
  // After a large frame read straight into its packet, a small read takes the next header (and
  // little of what follows, which the parser copies) so the next large frame's data goes
  // straight to its packet too.
  const size_t want = small_read           ? tunables::kReadIdleBytes
                      : state.after_direct ? tunables::kReadAfterDirectBytes
                                           : state.sizer.next();
  const Instant read_start = env_->clock().Now();
  if (idle()) BeginIdle(read_start);
  absl::StatusOr<size_t> n = small_read && transport_->ReadWouldWait()
                                 ? ReadAfterPause(parser, want)
                                 : transport_->Read(parser.PrepareAppend(want), want);
  reading_between_frames_ = false;
  EndReadWait();
  state.waited = state.waited + (env_->clock().Now() - read_start);
  parser.CommitAppend(n.ok() ? *n : 0);
  if (!n.ok()) {
    OnReadEnd(n.status());
    return false;
  }
  if (!small_read && !state.after_direct) state.sizer.OnRead(*n);
  state.drained = *n < want;
  state.after_direct = false;
  return true;
}

bool Manager::ReadFrameDataDirect(FrameParser& parser, ReadState& state) {
  const std::optional<FrameParser::PartialFrame> frame = parser.partial();
  if (!frame.has_value() ||
      frame->data_bytes - frame->buffered_bytes < tunables::kReadDirectMinBytes) {
    return true;
  }
  lent_buffer_ = LendFrameBuffer(frame->head, frame->data_bytes);
  if (!lent_buffer_.has_value()) return true;
  state.after_direct = true;
  ++frames_read_direct_;
  std::string& buffer = *lent_buffer_;
  const size_t at = buffer.size();
  buffer.resize(at + frame->data_bytes);
  parser.TakePartial(buffer.data() + at);
  // The lent buffer is the reader's while it reads: counted as what the parser holds.
  parser_held_bytes_ = buffer.size();
  RecountAssembling();
  // Each read also asks for what follows the frame (the next header and a little data), into
  // the parser's emptied buffer: a transport with vectored reads brings both in one call, so a
  // message of many frames costs one read per frame. Those bytes come only once the frame's
  // data is complete (ReadV fills its spans in order).
  const size_t after_bytes = tunables::kReadAfterDirectBytes;
  char* const after = parser.PrepareAppend(after_bytes);
  size_t carried = 0;
  for (size_t got = frame->buffered_bytes; got < frame->data_bytes;) {
    ArmReadTimer(options_.frame_timeout, state.waited, "frame");
    const size_t want = frame->data_bytes - got;
    const absl::Span<char> spans[2] = {absl::Span<char>(buffer.data() + at + got, want),
                                       absl::Span<char>(after, after_bytes)};
    const Instant read_start = env_->clock().Now();
    absl::StatusOr<size_t> n = transport_->ReadV(spans);
    EndReadWait();
    state.waited = state.waited + (env_->clock().Now() - read_start);
    if (!n.ok()) {
      lent_buffer_.reset();
      OnReadEnd(n.status());
      return false;
    }
    DRPC_CHECK_LE(*n, want + after_bytes) << "a transport read more than asked";
    got += std::min(*n, want);
    carried = *n - std::min(*n, want);
    // As a plain read's: short of the frame's data. A read that completed the frame with nothing
    // after it found the socket empty, but the peer is mid-transfer, not paused between calls:
    // the next read keeps the reader's buffer rather than take the idle path.
    state.drained = *n < want;
  }
  parser.CommitAppend(carried);
  state.carried = carried > 0;
  Frame complete = frame->head;
  complete.data = absl::string_view(buffer.data() + at, frame->data_bytes);
  saw_frame_ = true;
  state.waited = Duration::Zero();
  const absl::Status s = OnFrame(complete);
  if (lent_buffer_.has_value()) UnlendFrameBuffer(*std::exchange(lent_buffer_, std::nullopt));
  if (!s.ok()) {
    Terminate(s);
    return false;
  }
  return !terminated();
}

absl::StatusOr<size_t> Manager::ReadAfterPause(FrameParser& parser, size_t want) {
  for (;;) {
    // Wait without a buffer, so an idle connection holds none. The read after the wait takes one
    // again — usually the block another connection just gave back, so this is not memory to
    // return (not counted in parser_freed_bytes_).
    parser.Shrink(0);
    transport_->WaitReadable();
    absl::StatusOr<size_t> n = transport_->ReadNow(parser.PrepareAppend(want), want);
    if (!n.ok() || *n > 0) return n;
    parser.CommitAppend(0);  // woken for nothing (e.g. a guess): wait again
  }
}

bool Manager::HandleFrames(FrameParser& parser) {
  for (size_t frames = 1;; ++frames) {
    // One large read of tiny frames is a lot of work without a wait on the socket: the other
    // fibers get a turn (tunables::kTurnFramesMaxCount).
    if (frames % tunables::kTurnFramesMaxCount == 0) {
      env_->scheduler().Yield();
      if (terminated()) return false;
    }
    absl::StatusOr<std::optional<Frame>> frame = parser.Next();
    if (!frame.ok()) {
      Terminate(AsProtocolError(frame.status()));
      return false;
    }
    if (!frame->has_value()) return true;
    saw_frame_ = true;
    if (absl::Status s = OnFrame(**frame); !s.ok()) {
      Terminate(s);
      return false;
    }
    if (terminated()) return false;
  }
}

void Manager::RecountAssembling() {
  buffers_->Set(ConnectionBuffers::Kind::kAssembling, parser_held_bytes_ + AssemblingBytes());
}

void Manager::AfterRead(FrameParser& parser) {
  parser_held_bytes_ = parser.buffered_bytes();
  RecountAssembling();
  // Between frames: a buffer grown for a large frame or a bulk read goes back.
  if (parser.buffered_bytes() == 0) {
    parser_freed_bytes_ += parser.Shrink(tunables::kParserKeepMaxBytes);
  }
}

uint64_t Manager::freed_bytes() const {
  return buffer_pool_.freed_bytes() + parser_freed_bytes_ + writer_freed_bytes_;
}

bool Manager::HasSpareMemory() const {
  return buffer_pool_.free_bytes() > tunables::kBufferPoolIdleKeepMaxBytes ||
         WriterSpareBytes() > 0 || WriterFiberCanEnd() ||
         freed_bytes() - freed_at_last_return_ >= tunables::kMemoryReturnMinBytes;
}

void Manager::BeginIdle(Instant now) {
  idle_since_ = now;
  // One timer at a time, never cancelled: one that finds the connection busy again does nothing
  // (the next idle moment re-arms), one that finds it idle for less than the delay waits for the
  // rest. So a busy connection pays at most one timer per kMemoryReturnIdleDelay.
  if (idle_timer_ != 0 || terminated() || !HasSpareMemory()) return;
  idle_timer_ = env_->clock().ScheduleAt(now + tunables::kMemoryReturnIdleDelay,
                                         [this] { OnIdleTimer(); });
}

void Manager::OnIdleTimer() {
  idle_timer_ = 0;
  if (terminated() || !idle()) return;  // the next idle moment re-arms
  const Instant due = idle_since_ + tunables::kMemoryReturnIdleDelay;
  if (env_->clock().Now() < due) {
    idle_timer_ = env_->clock().ScheduleAt(due, [this] { OnIdleTimer(); });
    return;
  }
  TrimIdle();
}

void Manager::TrimIdle() {
  ++idle_trims_;
  buffer_pool_.Trim(tunables::kBufferPoolIdleKeepMaxBytes);
  writer_freed_bytes_ += ReleaseWriterSpare();
  const uint64_t freed = freed_bytes();
  if (freed - freed_at_last_return_ < tunables::kMemoryReturnMinBytes) return;
  freed_at_last_return_ = freed;
  ++memory_returns_;
  env_->chaos().Reach(situations::kManagerReturnedMemoryWhenIdle);
  env_->memory().Request();
}

bool Manager::MakeRoom() {
  // Partial packets of a stream that ended (shed, cancelled) are dropped without a read: recount
  // before each look, or a reader could wait for room that is already free.
  while (!terminated() && (RecountAssembling(), buffers_->over_budget())) {
    env_->chaos().Reach(situations::kManagerReaderStoppedAtTheBufferBudget);
    // Only what the reader itself must complete (frames, packets, pending metadata) and nothing
    // the application or the peer will take: reading on is the only way forward, so the stream
    // holding the most gives way at once.
    const bool waiting_helps =
        buffers_->releasable_bytes() > 0 || buffers_->over_server_budget();
    if (waiting_helps) {
      const Instant deadline = env_->clock().Now() + options_.recv_stall_timeout;
      while (!terminated() && buffers_->over_budget() && env_->clock().Now() < deadline) {
        buffers_->WaitForRoom(deadline, "reader: connection buffer budget reached");
      }
      if (terminated() || !buffers_->over_budget()) continue;
    }
    const absl::Status why = absl::ResourceExhaustedError(absl::StrCat(
        "connection buffer budget: the connection holds ", buffers_->held_bytes(),
        " bytes (its budget is ", buffers_->limits().max_bytes,
        buffers_->over_server_budget() ? ", and the server's budget is spent" : "", ")"));
    if (ShedLargestHolder(why)) {
      env_->chaos().Reach(situations::kManagerShedAStreamAtTheBufferBudget);
      continue;
    }
    // What is held is the writer's: the peer is not reading what we send. Not reading either
    // is all there is to do (until it reads, or the connection ends).
    buffers_->WaitForRoom(Instant::Infinite(), "reader: the peer does not read its replies");
  }
  return !terminated();
}

void Manager::ArmReadTimer(Duration timeout, Duration waited, absl::string_view what) {
  if (timeout == Duration::Infinite() || terminated()) return;
  const Duration left = waited < timeout ? timeout - waited : Duration::Zero();
  read_deadline_ = env_->clock().Now() + left;
  read_timeout_ = timeout;
  read_what_ = what;
  if (read_timer_ != 0) {
    if (read_timer_at_ <= read_deadline_) return;  // fires in time and re-checks
    env_->clock().Cancel(read_timer_);
    read_timer_ = 0;
  }
  ScheduleReadTimer(read_deadline_);
}

void Manager::ScheduleReadTimer(Instant at) {
  read_timer_at_ = at;
  read_timer_ = env_->clock().ScheduleAt(at, [this] { OnReadTimer(); });
}

void Manager::OnReadTimer() {
  read_timer_ = 0;
  if (read_deadline_.is_infinite() || terminated()) return;  // the next timed read re-arms
  if (env_->clock().Now() < read_deadline_) {
    ScheduleReadTimer(read_deadline_);
    return;
  }
  env_->chaos().Reach(situations::kManagerReadTimedOut);
  Terminate(absl::DeadlineExceededError(absl::StrCat(read_what_, " timeout: no complete ",
                                                     read_what_, " within ",
                                                     read_timeout_.ToString())));
}

void Manager::CancelReadTimer() {
  read_deadline_ = Instant::Infinite();
  if (read_timer_ == 0) return;
  env_->clock().Cancel(read_timer_);
  read_timer_ = 0;
}

void Manager::OnReadEnd(const absl::Status& error) {
  if (role_ == Role::kServer && GetTransportErrorKind(error) == TransportErrorKind::kEof &&
      !terminated()) {
    BeginHalfClose(error);
    return;
  }
  Terminate(error);
}

void Manager::BeginHalfClose(const absl::Status& eof) {
  // The client sends nothing more. What it had sent completely is still answered: streams whose
  // client had finished sending keep their writer for half_close_grace (the Server closes the
  // connection as soon as their calls are done); the rest end as on a closed connection.
  CancelReadTimer();
  half_closed_ = eof;
  buffers_->Set(ConnectionBuffers::Kind::kAssembling, 0);
  EndStreamsStillReceiving(StreamErrorFor(Stream::Role::kServer, eof));
  for (IncomingStream& in : accept_queue_) {
    if (!in.stream->peer_send_closed()) {
      in.stream->TerminateFromConnection(StreamErrorFor(Stream::Role::kServer, eof));
    }
  }
  accept_waiters_.WakeAll();
  env_->chaos().Reach(situations::kManagerHalfClosedWithCallsInFlight);
  grace_timer_ = env_->clock().ScheduleAt(env_->clock().Now() + options_.half_close_grace,
                                          [this, eof] {
                                            grace_timer_ = 0;
                                            Terminate(eof);
                                          });
}

void Manager::Terminate(const absl::Status& reason) {
  if (closed_.IsSet()) return;
  DRPC_CHECK(!reason.ok());
  // Order (docs/protocol.md §11.4): stop the writer so nothing more is queued, close the transport so a
  // blocked write or read returns, then end every stream with the real cause.
  StopWriter(reason);
  transport_->Close();
  closed_.Set(reason);
  for (TimerId id : late_runs_) env_->clock().Cancel(id);
  late_runs_.clear();
  CancelReadTimer();
  if (grace_timer_ != 0) env_->clock().Cancel(grace_timer_);
  grace_timer_ = 0;
  if (idle_timer_ != 0) env_->clock().Cancel(idle_timer_);
  idle_timer_ = 0;
  buffers_->Wake();
  TerminateStreams(reason);
  for (IncomingStream& in : accept_queue_) {
    in.stream->TerminateFromConnection(StreamErrorFor(Stream::Role::kServer, reason));
  }
  accept_waiters_.WakeAll();
}

void Manager::RunNowOrLate(absl::string_view site, absl::AnyInvocable<void()> fn) {
  if (terminated() || !env_->chaos().Buggify(site)) {
    fn();
    return;
  }
  const Duration delay = Duration::Micros(1 + static_cast<int64_t>(env_->chaos().ChooseRare(site, 500)));
  auto id = std::make_shared<TimerId>(0);
  *id = env_->clock().ScheduleAt(env_->clock().Now() + delay,
                                 [this, id, fn = std::move(fn)]() mutable {
                                   late_runs_.erase(*id);
                                   fn();
                                 });
  late_runs_.insert(*id);
}

void Manager::StopAccepting(const absl::Status& reason) {
  DRPC_CHECK(!reason.ok());
  if (!accepting_.ok()) return;
  accepting_ = reason;
  for (IncomingStream& in : accept_queue_) Refuse(in.stream);
  accept_queue_.clear();
  accept_waiters_.WakeAll();
}

void Manager::Close() {
  Terminate(ClosedError("manager closed: Close called"));
  fibers_.Wait("manager close: waiting for the connection's fibers");
}

// --- Client streams -------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<Stream>> Manager::NewClientStream(CallContext& ctx,
                                                                 absl::string_view rpc) {
  DRPC_CHECK(role_ == Role::kClient);
  if (ctx.done()) return ctx.err();
  if (terminated()) return StreamErrorFor(Stream::Role::kClient, closed().status());
  if (rpc.size() > limits::kRpcNameMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("rpc name of ", rpc.size(), " bytes exceeds ",
                                                   limits::kRpcNameMaxBytes));
  }
  // Encoded before the mode takes a stream ID: a failure leaves nothing behind (docs/protocol.md §9.1).
  std::string metadata = EncodeInvokeMetadata(ctx.metadata());
  if (metadata.size() > limits::kMetadataMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata of ", metadata.size(),
                                                   " bytes exceeds ", limits::kMetadataMaxBytes));
  }
  return OpenClientStream(ctx, rpc, std::move(metadata));
}

std::string Manager::EncodeInvokeMetadata(const Metadata& metadata) {
  std::string out = std::move(spare_invoke_metadata_);
  out.clear();
  AppendEncodedMetadata(metadata, out);
  return out;
}

std::shared_ptr<Stream> Manager::MakeStream(uint64_t id, Stream::Role role,
                                            Compression compression) {
  const bool flow = options_.mux && options_.flow.enabled;
  return std::make_shared<Stream>(
      *env_, static_cast<StreamSink&>(*this), id, role,
      Stream::Limits{
          .recv_queue_max_count = options_.recv_queue_max_count,
          .recv_queue_max_bytes = options_.recv_queue_max_bytes,
          // The fork's cap: a window's worth plus the one message a sender may overdraw.
          .flow_queue_cap_bytes =
              flow ? options_.flow.stream_window_bytes + options_.flow.message_max_bytes : 0,
          .recv_stall_timeout = options_.recv_stall_timeout,
          .observer = options_.observer,
          .error_format = options_.ErrorFormatOrDefault(),
          .compression = compression,
          .message_max_bytes = options_.mux ? options_.MuxMessageMaxBytes()
                                            : options_.packet_max_bytes},
      &buffer_pool_, buffers_);
}

void Manager::WatchContext(CallContext& ctx, const std::shared_ptr<Stream>& stream,
                           absl::string_view late_site) {
  Stream::ContextWatch& watch = stream->context_watch();
  DRPC_CHECK(watch.signal == nullptr) << "stream " << stream->id() << " watched twice";
  Signal& done = ctx.done_signal();
  if (done.IsSet()) {
    NoticeContextDone(stream, late_site, done.status());
    return;
  }
  watch.signal = &done;
  watch.late_site = late_site;
  watch.stream = stream;
  // The callback runs while the stream lives: a stream destroyed first removes it.
  Stream* const s = stream.get();
  watch.callback = done.OnSet([this, s](const absl::Status& reason) {
    Stream::ContextWatch& w = s->context_watch();
    DRPC_CHECK(w.signal != nullptr) << "stream " << s->id() << ": context done after its unwatch";
    Stream::ContextWatch fired = std::move(w);
    w = Stream::ContextWatch{};
    NoticeContextDone(std::move(fired.stream), fired.late_site, reason);
  });
}

void Manager::NoticeContextDone(std::weak_ptr<Stream> stream, absl::string_view late_site,
                                const absl::Status& reason) {
  RunNowOrLate(late_site, [this, weak = std::move(stream), reason] {
    if (std::shared_ptr<Stream> s = weak.lock()) OnContextDone(s, reason);
  });
}

void Manager::UnwatchContext(Stream& stream) {
  DRPC_DCHECK(stream.finished());
  Stream::ContextWatch& w = stream.context_watch();
  if (w.signal == nullptr) return;
  w.signal->RemoveCallback(w.callback);
  w = Stream::ContextWatch{};
}

// --- Server streams -------------------------------------------------------------------------------

absl::StatusOr<IncomingStream> Manager::AcceptStream(Instant deadline) {
  DRPC_CHECK(role_ == Role::kServer);
  for (;;) {
    BeforeAccept();
    while (!accept_queue_.empty()) {
      IncomingStream in = std::move(accept_queue_.front());
      accept_queue_.pop_front();
      if (!in.stream->terminated()) return in;  // cancelled before anyone accepted it: skip it
    }
    if (terminated()) return closed().status();
    if (!accepting()) return accepting_status();
    // Half-closed: no Invoke can come any more.
    if (half_closed()) return half_closed_;
    if (!accept_waiters_.Wait("server: waiting for an Invoke", deadline)) {
      return absl::DeadlineExceededError("inactivity timeout: no Invoke arrived in time");
    }
  }
}

void Manager::OfferIncoming(std::shared_ptr<Stream> stream, std::string&& invoke_data,
                            Metadata&& metadata) {
  DRPC_CHECK(role_ == Role::kServer);
  DRPC_DCHECK(!terminated());
  if (!accepting()) {
    buffer_pool().Give(std::move(invoke_data));
    Refuse(stream);
    return;
  }
  // Built in place, member by member (clang before 16 has no parenthesised aggregate
  // initialisation): the map moves once, into the queue.
  IncomingStream& in = accept_queue_.emplace_back();
  in.stream = std::move(stream);
  in.rpc.assign(invoke_data.data(), invoke_data.size());
  in.metadata = std::move(metadata);
  buffer_pool().Give(std::move(invoke_data));
  accept_waiters_.WakeOne();
}

absl::Status Manager::PeerMayNotInvoke(Kind kind, uint64_t stream) {
  return ProtocolError(absl::StrCat("server sent ", KindName(kind), " for stream ", stream));
}

absl::StatusOr<Metadata> Manager::DecodeInvokeMetadata(const Packet& packet) {
  Metadata md;
  if (absl::Status s = DecodeInvokeMetadataInto(packet, md); !s.ok()) return s;
  return md;
}

absl::Status Manager::DecodeInvokeMetadataInto(const Packet& packet, Metadata& out) {
  DRPC_DCHECK(packet.kind == Kind::kInvokeMetadata);
  if (out.empty()) out.swap(spare_incoming_metadata_);
  if (absl::Status s = DecodeMetadataInto(packet.data, out); !s.ok()) {
    return ProtocolError(absl::StrCat("stream ", packet.id.stream, ": ", s.message()));
  }
  return absl::OkStatus();
}

void Manager::GiveBackIncomingMetadata(Metadata&& metadata) {
  DRPC_CHECK(role_ == Role::kServer);
  if (metadata.empty() || !spare_incoming_metadata_.empty() ||
      metadata.size() > tunables::kIncomingMetadataSpareMaxCount) {
    return;
  }
  size_t bytes = 0;
  for (const auto& [key, value] : metadata) bytes += key.capacity() + value.capacity();
  if (bytes <= tunables::kIncomingMetadataSpareMaxBytes) {
    spare_incoming_metadata_ = std::move(metadata);
  }
}

absl::Status Manager::InvokedRpcTooLong(const Packet& packet) {
  DRPC_DCHECK(packet.kind == Kind::kInvoke);
  return ProtocolError(absl::StrCat("rpc name of ", packet.data.size(), " bytes on stream ",
                                    packet.id.stream));
}

absl::Status Manager::AsProtocolError(const absl::Status& assembler_error) {
  // Assembler errors already read "protocol error: ..."; keep the text, add the error class.
  absl::string_view m = assembler_error.message();
  absl::ConsumePrefix(&m, "protocol error: ");
  return ProtocolError(m);
}

absl::Status Manager::StreamErrorFor(Stream::Role role, const absl::Status& reason) {
  if (role == Stream::Role::kServer) {
    if (GetTransportErrorKind(reason) == TransportErrorKind::kEof) return CanceledError();
    return reason;
  }
  if (IsClosed(reason)) return reason;
  return ClosedError("connection closed", reason);
}

}  // namespace drpc
