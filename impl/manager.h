// Manager: one DRPC connection — a transport, a reader fiber, a writer, and its streams.
//
// Two modes behind one interface (Options::mux), each its own library; CreateManager
// (impl/manager_factory.h) picks one:
//   UpstreamManager  storj/drpc semantics: one stream at a time, global monotonic IDs, corked
//                    streaming Invoke, hard or soft cancel — what a Go peer expects on the wire,
//                    without Go's hangs (docs/protocol.md §13 items 1–4). impl/upstream_manager.h
//   MuxManager       concurrent streams (docs/protocol.md §11): per-stream assembly, a fair shared writer,
//                    soft cancel only, per-stream flow control, MaxStreams refusal.
//                    impl/mux_manager.h
//
//   absl::StatusOr<std::unique_ptr<Manager>> m =
//       CreateManager(env, std::move(transport), Manager::Role::kClient, options);
//   absl::StatusOr<std::shared_ptr<Stream>> s = (*m)->NewClientStream(ctx, "/pkg.Svc/Method");
//   ...
//   (*m)->Close();   // closes the transport, ends every stream, joins the manager's fibers
//
// This class holds what both modes share: the reader loop and its protocol-error mapping, the
// checks of a new client stream's name and metadata, the checks of an Invoke from the peer, stream
// construction, the watch on a client call's context, the server's accept queue and its refusal
// on shutdown, and termination. A mode supplies its writer, its dispatch of incoming frames and
// its cancel semantics through the protected hooks, and is its streams' StreamSink.
//
// Threading: a Manager and its streams belong to the Env's Scheduler. Close() must be called (from
// a fiber) before the Manager is destroyed.
#ifndef DRPC_IMPL_MANAGER_H_
#define DRPC_IMPL_MANAGER_H_

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/buffer_budget.h"
#include "impl/buffer_pool.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/options.h"
#include "impl/read_sizer.h"
#include "impl/stream.h"
#include "impl/sync.h"
#include "impl/tunables.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/metadata.h"
#include "proto/packet.h"

namespace drpc {

// A stream a client invoked, as a server sees it.
struct IncomingStream {
  std::shared_ptr<Stream> stream;
  std::string rpc;
  Metadata metadata;
};

class Manager : protected StreamSink {
 public:
  enum class Role { kClient, kServer };

  virtual ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Client: a new stream for `rpc`, with ctx.metadata() sent as InvokeMetadata. Fails at once with
  // ctx.err() if ctx is already done (nothing is sent), with the connection's error once it
  // ended, or with kInvalidArgument for a name over kRpcNameMaxBytes or metadata over
  // kMetadataMaxBytes (nothing is sent, no stream ID is used). Upstream mode waits until the
  // previous stream finished. Nothing reaches the wire until the stream's first Send, Recv or
  // close in upstream mode (the cork); in mux mode the metadata and Invoke are queued together at
  // once. Cancelling ctx cancels the stream (docs/protocol.md §7.7). A stream cancelled or closed before its
  // Invoke reached the wire sends nothing at all.
  absl::StatusOr<std::shared_ptr<Stream>> NewClientStream(CallContext& ctx, absl::string_view rpc);

  // Server: the next stream a client invoked. kDeadlineExceeded if `deadline` passes first, or
  // the connection's error once it ended.
  absl::StatusOr<IncomingStream> AcceptStream(Instant deadline);

  // Server: a call's incoming metadata once its handler returned: its map nodes and strings serve
  // the next InvokeMetadata's decode. Kept if within tunables::kIncomingMetadataSpareMaxCount
  // entries and kIncomingMetadataSpareMaxBytes of string capacity (and nothing is kept already);
  // else freed.
  void GiveBackIncomingMetadata(Metadata&& metadata);
  // Server: entries of the map GiveBackIncomingMetadata kept, 0 when none is kept (the next
  // InvokeMetadata's decode takes it). For tests and stats.
  size_t incoming_metadata_spare_count() const { return spare_incoming_metadata_.size(); }

  // Server: stop taking new streams (graceful shutdown). AcceptStream then returns `reason`;
  // streams invoked but not yet accepted, and any invoked later, are refused with an Error
  // carrying `reason`. Streams already accepted are untouched. Never blocks.
  void StopAccepting(const absl::Status& reason);
  bool accepting() const { return accepting_.ok(); }

  // Server: answers an accepted stream with an Error carrying `reason` instead of running it (a
  // server-wide budget is spent); the connection and its other streams go on. Never blocks: mux
  // queues the Error with the stream's writer; upstream writes it on a helper fiber (without one,
  // the connection is closed — the one way left to tell the client).
  virtual void RefuseStream(Stream& stream, const absl::Status& reason) = 0;

  // Spawns the connection's fibers (the reader; MuxManager adds its writer). Only CreateManager
  // (impl/manager_factory.h) calls it, once the object is built; kResourceExhausted when there is
  // no fiber stack, and the connection is then ended before it starts.
  virtual absl::Status Start();

  // Ends the connection with `reason`: stops the writer, closes the transport, terminates every
  // stream. Never blocks; idempotent (the first reason wins).
  void Terminate(const absl::Status& reason);

  // Terminate(closed: "manager closed: Close called"), then waits for the manager's fibers.
  void Close();

  // What the connection holds right now (leak checks, observability, the fuzzers' memory
  // budgets): streams not yet finished, streams whose metadata arrived without their Invoke,
  // streams with packets queued to write, received message bytes waiting in the streams' queues,
  // the capacity kept by the connection's buffer pool, and everything counted against its buffer
  // budget (buffers(): queued messages, frames and packets being assembled, pending metadata,
  // writer copies).
  struct Usage {
    size_t streams = 0;
    size_t pending_invokes = 0;
    size_t queued_writes = 0;
    size_t queued_bytes = 0;
    size_t pooled_bytes = 0;
    size_t buffered_bytes = 0;
    Usage& operator+=(const Usage& o) {
      streams += o.streams;
      pending_invokes += o.pending_invokes;
      queued_writes += o.queued_writes;
      queued_bytes += o.queued_bytes;
      pooled_bytes += o.pooled_bytes;
      buffered_bytes += o.buffered_bytes;
      return *this;
    }
  };
  virtual Usage usage() const = 0;

  // The bytes this connection holds for its peer, against its budget
  // (Options::connection_buffered_max_bytes) and the server's (impl/buffer_budget.h).
  ConnectionBuffers& buffers() { return *buffers_; }
  const ConnectionBuffers& buffers() const { return *buffers_; }
  // Server: counts what this connection holds beyond its reservation against `server` (shared
  // by the server's connections; must outlive this Manager and its streams). Before Start.
  void AttachServerBuffers(ServerBuffers* server);
  // Server: the client half-closed (read EOF) and the connection is finishing the calls it had.
  bool half_closed() const { return !half_closed_.ok(); }

  // Set when the connection has ended, with the reason.
  Signal& closed() { return closed_; }
  const absl::Status& accepting_status() const { return accepting_; }
  bool is_mux() const { return options_.mux; }
  const Options& options() const { return options_; }
  Env& env() const { return *env_; }
  // The connection's message buffers (impl/buffer_pool.h), shared by its assembler and streams.
  BufferPool& buffer_pool() { return buffer_pool_; }
  const BufferPool& buffer_pool() const { return buffer_pool_; }
  // Memory given back (impl/tunables.h, "Memory given back"): how often this connection went
  // idle holding spare buffers and trimmed them, and how often it then asked the Env to return
  // the allocator's cache to the system (Env::memory()).
  uint64_t idle_trims() const { return idle_trims_; }
  // Bytes of the reader's frame buffer (0 while it waits for a paused peer on a transport that
  // can tell, see Transport::ReadWouldWait).
  size_t read_buffer_bytes() const {
    return read_parser_ != nullptr ? read_parser_->capacity_bytes() : 0;
  }
  uint64_t memory_returns() const { return memory_returns_; }
  // Frames whose data the reader read straight into their packet's buffer (large frames:
  // tunables::kReadDirectMinBytes), not through the frame parser's buffer.
  uint64_t frames_read_direct() const { return frames_read_direct_; }
  // Capacity this connection has freed since it started: buffers over the pool's bounds, pool
  // and writer buffers trimmed when idle, frame buffers released after large frames.
  uint64_t freed_bytes() const;

 protected:
  // `options` must be valid (CreateManager validates them).
  Manager(Env& env, std::unique_ptr<Transport> transport, Role role, const Options& options);

  // Spawns a fiber the manager waits for in Close(). kResourceExhausted (no fiber stack): `body`
  // never runs and nothing waits for it.
  [[nodiscard]] absl::Status SpawnFiber(std::string name, absl::AnyInvocable<void()> body);

  // Runs `fn` now — or, when the simulator's chaos fires at `site`, a little later from a timer:
  // a reaction that production may also see late (a busy scheduler noticing a cancel after other
  // work). Pending late runs are dropped when the connection ends, so `fn` never runs after
  // Terminate; it must re-check the state it acts on.
  void RunNowOrLate(absl::string_view site, absl::AnyInvocable<void()> fn);

  // --- What a mode supplies ---------------------------------------------------------------------
  // Client: the stream for `rpc` with its encoded `metadata` (checked, possibly empty), queued or
  // corked as the mode does. Called with ctx not done and the connection not yet ended.
  virtual absl::StatusOr<std::shared_ptr<Stream>> OpenClientStream(CallContext& ctx,
                                                                   absl::string_view rpc,
                                                                   std::string metadata) = 0;
  // Client: the InvokeMetadata body of a new stream (by default ctx's metadata as is), encoded
  // into the buffer the previous stream's left (KeepInvokeMetadataBuffer).
  virtual std::string EncodeInvokeMetadata(const Metadata& metadata);
  // Client: a stream's encoded InvokeMetadata once its bytes were copied out: its buffer serves
  // the next stream's if its capacity is at most tunables::kInvokeMetadataSpareMaxBytes (one
  // allocation fewer per call with metadata).
  void KeepInvokeMetadataBuffer(std::string&& buffer) {
    if (buffer.capacity() <= tunables::kInvokeMetadataSpareMaxBytes) {
      spare_invoke_metadata_ = std::move(buffer);
    }
  }
  // One frame from the reader. A non-OK status ends the connection. A frame whose data was read
  // straight into a lent packet buffer (LendFrameBuffer) views that buffer, lent_frame_buffer():
  // the mode passes it to its assembler, which takes it back.
  virtual absl::Status OnFrame(const Frame& frame) = 0;
  // Large frames without a copy: the reader has a frame header `head` with `data_bytes` of data
  // mostly still to come. The mode's assembler lends the buffer of the packet the frame belongs
  // to (LendBuffer), or nullopt: the frame takes the ordinary path (by default always).
  virtual std::optional<std::string> LendFrameBuffer(const Frame& /*head*/,
                                                     size_t /*data_bytes*/) {
    return std::nullopt;
  }
  // The lent buffer did not reach the assembler with its frame (the frame was dropped before
  // assembly): it goes back (the assembler's Unlend).
  virtual void UnlendFrameBuffer(std::string /*buffer*/) {}
  // Server: answers a stream that will never be accepted (shutting down) with an Error carrying
  // accepting_status(). Must not block.
  virtual void Refuse(const std::shared_ptr<Stream>& stream) = 0;
  // Server: what must happen before AcceptStream hands out the next stream (by default nothing).
  virtual void BeforeAccept() {}
  // Client: the context of `stream`'s call is done (cancel or deadline); `stream` may have ended
  // meanwhile. The mode's cancel (docs/protocol.md §7.7). Runs inside whatever ended the context: must not
  // block.
  virtual void OnContextDone(const std::shared_ptr<Stream>& stream, const absl::Status& reason) = 0;
  // Terminate, in this order: stop the writer (nothing more is queued), then — after the
  // transport is closed — end the mode's streams. Queued incoming streams are ended afterwards.
  virtual void StopWriter(const absl::Status& reason) = 0;
  virtual void TerminateStreams(const absl::Status& reason) = 0;
  // Bytes of the packets being assembled (counted against the buffer budget after each read).
  virtual size_t AssemblingBytes() const = 0;
  // The connection is over its buffer budget and nothing will free room in time: fails the
  // stream (or not-yet-invoked stream) holding the most bytes — queued plus being assembled —
  // with `why` plus what it held, telling the peer. False if no stream holds anything.
  virtual bool ShedLargestHolder(const absl::Status& why) = 0;
  // The writer's buffer capacity beyond tunables::kWriteBufferDefaultBytes while it writes
  // nothing (0 if none, or if it is writing).
  virtual size_t WriterSpareBytes() const { return 0; }
  // Releases that capacity (the connection is idle). Returns the bytes released; must not block.
  virtual size_t ReleaseWriterSpare() { return 0; }
  // A writer fiber runs that ReleaseWriterSpare would end (the idle timer is armed for it).
  virtual bool WriterFiberCanEnd() const { return false; }
  // Server, read EOF (the client half-closed): ends, as a closed connection would, the streams
  // whose client had not finished sending (no CloseSend or Close arrived), and drops streams whose
  // Invoke never arrived. The others may finish (Options::half_close_grace).
  virtual void EndStreamsStillReceiving(const absl::Status& reason) = 0;

  // --- Shared by the modes ----------------------------------------------------------------------
  // A stream of this connection with the connection's receive limits and Error body format;
  // flow-controlled when the connection is (mux with Options::flow), and compressed as given.
  std::shared_ptr<Stream> MakeStream(uint64_t id, Stream::Role role,
                                     Compression compression = Compression::kNone);
  // Client: OnContextDone(stream) once ctx is done — at once, or late when chaos fires at
  // `late_site` (a string literal) — unless the stream finished first (UnwatchContext).
  void WatchContext(CallContext& ctx, const std::shared_ptr<Stream>& stream,
                    absl::string_view late_site);
  // The stream finished: its call's context may go away.
  void UnwatchContext(Stream& stream);
  // WatchContext's reaction to a done context.
  void NoticeContextDone(std::weak_ptr<Stream> stream, absl::string_view late_site,
                         const absl::Status& reason);
  // Server: hands an invoked stream to AcceptStream, or Refuse()s it when no longer accepting.
  // `invoke_data` is the Invoke packet's data, the method name: it is copied (usually into a
  // short string's inline bytes) and the buffer goes back to the pool for the call's first
  // message.
  void OfferIncoming(std::shared_ptr<Stream> stream, std::string&& invoke_data,
                     Metadata&& metadata);
  // Server: forgets streams offered but not accepted (a newer Invoke cancelled them).
  void DropOfferedIncoming() { accept_queue_.clear(); }
  // The peer invoked `stream` with `kind` (Invoke or InvokeMetadata): a protocol error unless we
  // are the server (a client wedges in Go, docs/protocol.md §13 item 4).
  absl::Status CheckPeerMayInvoke(Kind kind, uint64_t stream) const {
    if (role_ == Role::kServer) return absl::OkStatus();
    return PeerMayNotInvoke(kind, stream);
  }
  // An InvokeMetadata body from the peer, or a protocol error naming the stream. Decoded into the
  // map GiveBackIncomingMetadata kept, if any.
  absl::StatusOr<Metadata> DecodeInvokeMetadata(const Packet& packet);
  // The same into `out`, whose nodes are reused (an empty `out` takes the kept map's first). On
  // an error `out` is empty.
  absl::Status DecodeInvokeMetadataInto(const Packet& packet, Metadata& out);
  // An Invoke's RPC name from the peer: a protocol error over kRpcNameMaxBytes.
  static absl::Status CheckInvokedRpc(const Packet& packet) {
    if (packet.data.size() <= limits::kRpcNameMaxBytes) return absl::OkStatus();
    return InvokedRpcTooLong(packet);
  }
  // An assembler's error ("protocol error: ...") as the connection's protocol error.
  static absl::Status AsProtocolError(const absl::Status& assembler_error);

  // The error a stream of `role` gets when the connection ends with `reason`: server streams see
  // Canceled for a plain EOF (the client went away); client streams see "closed: connection
  // closed: ..." (never a misleading Canceled; docs/protocol.md §13 item 11).
  static absl::Status StreamErrorFor(Stream::Role role, const absl::Status& reason);

  // The buffer the frame OnFrame is handling was read into (nullopt inside: an ordinary frame).
  std::optional<std::string>* lent_frame_buffer() { return &lent_buffer_; }

  Transport& transport() { return *transport_; }
  Role role() const { return role_; }
  bool terminated() const { return closed_.IsSet(); }

  Env* env_;
  Options options_;

 private:
  // The failures of CheckPeerMayInvoke and CheckInvokedRpc (every Invoke passes those inline).
  static absl::Status PeerMayNotInvoke(Kind kind, uint64_t stream);
  static absl::Status InvokedRpcTooLong(const Packet& packet);

  // What ReadLoop carries from one read to the next.
  struct ReadState {
    ReadSizer sizer;
    // How long the reader has waited for the bytes of the incomplete frame (or, on a server, for
    // the first frame). The timeouts count only these waits, never the time the reader spends
    // waiting for the application or the buffer budget.
    Duration waited = Duration::Zero();
    bool drained = true;        // the last read came back short (or there was none)
    // The last read was a frame's data straight into its packet: the next read is small.
    bool after_direct = false;
    bool carried = false;  // and it brought bytes after the frame, not yet handled
  };
  void ReadLoop();
  // One read into the parser's buffer, sized by `state`. False once the connection has ended.
  bool ReadIntoParser(FrameParser& parser, ReadState& state);
  // Waits while the connection is over its buffer budget (its peer's writes back up), shedding
  // the largest holder when nothing frees room in time. False once the connection has ended.
  bool MakeRoom();
  // Hands every complete frame of `parser` to OnFrame. False once the connection has ended.
  bool HandleFrames(FrameParser& parser);
  // When the parser holds the header of a frame with at least tunables::kReadDirectMinBytes of
  // data still to come and the mode lends the frame's packet buffer: reads the rest of the data
  // straight into it (and, with the same reads, what follows into the parser: state.carried)
  // and hands the frame to OnFrame; sets state.after_direct when it did. False once the
  // connection has ended.
  bool ReadFrameDataDirect(FrameParser& parser, ReadState& state);
  // The read after the peer paused (the transport knows a Read would wait): waits with no read
  // buffer held, then reads `want` bytes into a fresh one (parser.PrepareAppend).
  absl::StatusOr<size_t> ReadAfterPause(FrameParser& parser, size_t want);
  // After each read: counts what is being assembled, trims buffers.
  void AfterRead(FrameParser& parser);
  // Counts the parser's unconsumed bytes and the mode's partial packets as kAssembling.
  void RecountAssembling();
  // The transport's read ended with `error` (a server that reads EOF half-closes).
  void OnReadEnd(const absl::Status& error);
  void BeginHalfClose(const absl::Status& eof);
  // Bounds the reader's next wait for bytes: once it has waited `timeout` in all for the current
  // frame (`waited` so far), the connection ends. One timer serves many reads (a read is often a
  // few bytes): it is only moved when it would fire too early, and when it fires outside a timed
  // read or before the read's deadline it re-arms itself for the next one.
  void ArmReadTimer(Duration timeout, Duration waited, absl::string_view what);
  void ScheduleReadTimer(Instant at);
  void OnReadTimer();
  // The timed read returned.
  void EndReadWait() { read_deadline_ = Instant::Infinite(); }
  void CancelReadTimer();
  // The connection became idle at `now`: its reader waits for the next frame with nothing held
  // (no partial frame, nothing counted in buffers()) — when a read starts so, or when the last
  // held bytes are released during a read. If it keeps spare memory, that is trimmed once it has
  // stayed idle for kMemoryReturnIdleDelay.
  void BeginIdle(Instant now);
  bool idle() const { return reading_between_frames_ && buffers_->held_bytes() == 0; }
  void OnIdleTimer();
  bool HasSpareMemory() const;
  // Trims the pool and the writer; asks the Env to return memory after a large enough release.
  void TrimIdle();

  BufferPool buffer_pool_{BufferPool::Limits{}};
  std::shared_ptr<ConnectionBuffers> buffers_;
  std::unique_ptr<Transport> transport_;
  TimerId read_timer_ = 0;     // 0: none armed
  Instant read_timer_at_;      // when read_timer_ fires
  // The running read's deadline (Infinite: no timed read running), its timeout and what it waits for.
  Instant read_deadline_ = Instant::Infinite();
  Duration read_timeout_ = Duration::Infinite();
  absl::string_view read_what_;
  bool saw_frame_ = false;     // a complete frame has arrived
  size_t parser_held_bytes_ = 0;  // the frame parser's unconsumed bytes after the last read
  std::optional<std::string> lent_buffer_;  // a packet buffer the reader reads a frame into
  // Memory given back: whether the reader is in a read that started between frames, the idle
  // timer (0: none armed), when the connection last became idle, what was freed and returned.
  bool reading_between_frames_ = false;
  TimerId idle_timer_ = 0;
  Instant idle_since_ = Instant::Infinite();
  uint64_t parser_freed_bytes_ = 0;
  uint64_t writer_freed_bytes_ = 0;
  uint64_t freed_at_last_return_ = 0;
  uint64_t idle_trims_ = 0;
  const FrameParser* read_parser_ = nullptr;  // ReadLoop's, while it runs
  uint64_t memory_returns_ = 0;
  uint64_t frames_read_direct_ = 0;
  absl::Status half_closed_;   // the read EOF once the client half-closed (server); else OK
  TimerId grace_timer_ = 0;    // ends a half-closed connection after half_close_grace
  Role role_;
  absl::Status accepting_;  // OK while accepting; else the reason given to StopAccepting
  Signal closed_;
  WaitGroup fibers_;
  std::set<TimerId> late_runs_;  // timers of RunNowOrLate, cancelled by Terminate
  // Server: a finished call's metadata map, for the next decode (GiveBackIncomingMetadata).
  Metadata spare_incoming_metadata_;
  // Client: a buffer for the next stream's encoded metadata (KeepInvokeMetadataBuffer).
  std::string spare_invoke_metadata_;
  // Server: invoked streams not yet accepted, in the order they were invoked.
  std::deque<IncomingStream> accept_queue_;
  WaitList accept_waiters_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_MANAGER_H_
