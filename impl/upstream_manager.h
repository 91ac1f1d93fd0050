// UpstreamManager: the default mode, storj/drpc's one-stream-at-a-time connection (docs/protocol.md §8), with
// exactly Go's bytes on the wire and none of Go's hangs:
//   * client stream IDs 1, 2, 3, ...; message IDs per direction from 1; the next client stream
//     starts only after the previous one finished;
//   * a streaming Invoke is corked (buffered) until the first Send, Recv or close (a first Recv
//     leaves the write to the flusher: a receiver never waits for a write); a unary call's
//     [metadata] Invoke Message CloseSend go out in one write (impl/conn.h);
//   * frames are split at Options::split_bytes and buffered up to write_buffer_bytes; a message
//     that nothing follows at once (Stream::Send) is not written by its sender: the connection's
//     flusher fiber writes whatever is buffered when it next runs, i.e. as soon as the sender
//     parks or yields (to Recv, to wait for anything, or at the end of its reactor turn). A
//     sender of many messages in a row so fills the buffer and writes once per
//     write_buffer_bytes instead of once per message, and a lone message still leaves when its
//     sender next waits; the wire bytes are Go's, only the write boundaries differ;
//   * cancelling an active call closes the transport (Go's default), or with soft_cancel sends a
//     Cancel packet (control bit) and keeps the connection — unless a write is in progress, in
//     which case the connection is closed as in Go;
//   * reader dispatch (docs/protocol.md §8.2): packets for the current stream go to it; older streams are
//     dropped; a new Invoke cancels the current stream (server) and starts the next one; anything
//     else for an unknown stream is dropped instead of wedging the reader (§13 items 1, 4);
//   * each stream's receive queue is bounded; the reader waits for the application only while the
//     stream lives and at most recv_stall_timeout per message (then the stream fails: a server
//     sends an Error, a client a Cancel with soft_cancel or else closes the connection), and a
//     server stream whose handler returned drops later messages (§13 items 2, 3);
//   * nothing is ever sent for a client stream whose Invoke is still corked: cancelling or
//     closing it discards its buffered bytes, and creating the next stream discards whatever is
//     left unflushed (Go's writer reset), so stale bytes never go out ahead of it (§13 item 19).
#ifndef DRPC_IMPL_UPSTREAM_MANAGER_H_
#define DRPC_IMPL_UPSTREAM_MANAGER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/optimization.h"
#include "impl/manager.h"
#include "proto/base/check.h"
#include "proto/packet.h"

namespace drpc {

class UpstreamManager final : public Manager {
 public:
  // `options` must be valid and select upstream mode; use CreateManager (impl/manager_factory.h).
  UpstreamManager(Env& env, std::unique_ptr<Transport> transport, Role role,
                  const Options& options);
  ~UpstreamManager() override;

  void RefuseStream(Stream& stream, const absl::Status& reason) override {
    OnStreamError(stream, reason);
    stream.StopReceiving();
  }
  Usage usage() const override {
    return Usage{.streams = current_ != nullptr && !current_->finished() ? 1u : 0u,
                 .pending_invokes = pending_metadata_stream_.has_value() ? 1u : 0u,
                 .queued_writes = write_buffer_.empty() ? 0u : 1u,
                 .queued_bytes = current_ != nullptr ? current_->queued_bytes() : 0u,
                 .pooled_bytes = buffer_pool().free_bytes(),
                 .buffered_bytes = buffers().held_bytes()};
  }

 private:
  // Manager.
  absl::StatusOr<std::shared_ptr<Stream>> OpenClientStream(CallContext& ctx,
                                                           absl::string_view rpc,
                                                           std::string metadata) override;
  // The body EncodeMetadata would give, written into the buffer of the previous stream's.
  absl::Status OnFrame(const Frame& frame) override;
  std::optional<std::string> LendFrameBuffer(const Frame& head, size_t data_bytes) override {
    return assembler_.LendBuffer(head, data_bytes);
  }
  void UnlendFrameBuffer(std::string buffer) override { assembler_.Unlend(std::move(buffer)); }
  // Answers with an Error on a fiber of its own.
  void Refuse(const std::shared_ptr<Stream>& stream) override;
  // An Error the reader queued for the previous stream goes out before the next one is handed out.
  void BeforeAccept() override;
  void OnContextDone(const std::shared_ptr<Stream>& stream, const absl::Status& reason) override;
  void StopWriter(const absl::Status& reason) override;
  void TerminateStreams(const absl::Status& reason) override;
  size_t AssemblingBytes() const override { return assembler_.partial_bytes(); }
  // The current stream is the only one that can hold anything.
  bool ShedLargestHolder(const absl::Status& why) override;
  void EndStreamsStillReceiving(const absl::Status& reason) override;
  size_t WriterSpareBytes() const override;
  size_t ReleaseWriterSpare() override;

  // StreamSink.
  absl::Status Send(Stream& stream, Kind kind, absl::string_view data, Follows follows) override;
  // Both packets under one hold of the write lock (Mutex::Relock between them).
  absl::Status SendLast(Stream& stream, absl::string_view data,
                        absl::FunctionRef<bool()> close_send) override;
  absl::Status SendTerminal(Stream& stream, Kind kind, absl::string_view data,
                            const absl::Status& dropped) override;
  // Has the corked Invoke written (Go's checkRecvFlush) by the flusher: never waits for the write
  // lock or a write, so a receiver always drains its queue.
  absl::Status OnFirstRecv(Stream& stream) override;
  // Upstream streams are never flow-controlled: never called.
  void OnConsumed(Stream& stream, uint64_t credit) override;
  void OnStreamError(Stream& stream, const absl::Status& error) override;
  void OnFinished(Stream& stream) override;

  // Send's body. Requires write_mu_.
  absl::Status SendLocked(Stream& stream, Kind kind, absl::string_view data, Follows follows);
  absl::Status OnPacket(Packet&& packet);
  absl::Status OnNewStreamPacket(Packet&& packet);
  enum class FlushMode {
    kNone,      // stay in the buffer (metadata before its Invoke)
    kIfFull,    // write the buffer out once it holds write_buffer_bytes
    kDeferred,  // kIfFull, and the flusher writes the rest when it next runs
    kNow,
  };
  // Appends one packet to the write buffer and writes the buffer out as `flush` says.
  // Requires write_mu_.
  absl::Status AppendLocked(Stream& stream, Kind kind, absl::string_view data, bool control,
                            FlushMode flush);
  absl::Status FlushLocked();
  // Has the flusher fiber (started on first use) write the buffer when it next runs; without a
  // fiber for it, writes at once. Requires write_mu_.
  absl::Status WantFlushLocked();
  // Asks the flusher fiber (started on first use) to write the buffer when it next runs; false
  // if there is no fiber stack for it. Never waits, so callers need not hold write_mu_ (a
  // connection's fibers run one at a time).
  bool WakeFlusher();
  // The flusher fiber's body: until the writer stops, writes the buffer each time it is wanted.
  void FlusherLoop();
  // Writes the buffered bytes and all frames of one splittable packet with one Transport::WriteV,
  // the packet's data not copied. Requires write_mu_.
  absl::Status WriteGatherLocked(Stream& stream, Kind kind, absl::string_view data, bool control);
  // Records a failed write as the writer's sticky error and ends the connection.
  absl::Status OnWriteFailed(const absl::Status& s);
  // The packet about to be buffered or written goes out after every earlier one: upstream IDs
  // only rise across the connection (docs/protocol.md §8). Requires write_mu_.
  void CheckRisingLocked(PacketId id) {
    DRPC_DCHECK(write_mu_.HeldByCurrent());
    // The failure's message is formatted out of line: every packet sent passes here.
    DRPC_CHECK_COLD(id > last_sent_, [&](std::ostream& os) {
      os << "upstream packet " << PacketIdString(id) << " after " << PacketIdString(last_sent_);
    });
    last_sent_ = id;
  }
  // If `stream` is the corked stream (nothing of it reached the wire), drops its buffered bytes
  // and returns true: then nothing at all may be sent for it. Requires write_mu_.
  bool DiscardIfCorkedLocked(const Stream& stream);
  // Writes a terminal packet (a soft cancel's Cancel, the Error of a failed server stream) on a
  // fiber of its own, for callers that must not block; the next stream waits for it.
  void WriteTerminalAsync(std::shared_ptr<Stream> stream, Kind kind, std::string data,
                          bool control);

  UpstreamAssembler assembler_;
  Mutex write_mu_;
  std::string write_buffer_;
  absl::Status writer_error_;
  // The flusher fiber: started, asked to write (a deferred flush is pending), and where it waits.
  bool flusher_started_ = false;
  bool flush_pending_ = false;
  WaitList flush_wanted_;
  // The highest packet ID handed to the write buffer (IDs only rise).
  PacketId last_sent_{0, 0};
  // The current stream (the most recently created); older ones are finished or abandoned.
  std::shared_ptr<Stream> current_;
  uint64_t last_client_stream_id_ = 0;
  // Client: the stream whose metadata and Invoke are buffered and not yet written (0: none).
  uint64_t corked_stream_ = 0;
  // Client: the stream whose corked bytes were dropped (it was cancelled before any of it reached
  // the wire): nothing more of it may be written, not even by an operation that was already on
  // its way to the write lock when the cancel came (0: none).
  uint64_t discarded_stream_ = 0;
  // The newest stream whose Error or Cancel a WriteTerminalAsync fiber writes (0: none): an
  // operation already on its way to the write lock must not follow it onto the wire.
  uint64_t terminal_stream_ = 0;
  // Terminal packets queued by WriteTerminalAsync and not written yet: the next stream waits for
  // them, so they never follow a newer stream's frames (the peer would see IDs go backwards).
  int terminal_writes_in_flight_ = 0;
  WaitList terminal_writes_done_;
  // Server: the newest InvokeMetadata and its stream ID (none: no metadata is pending), kept for
  // the Invoke with the same ID. The map is decoded in place (its nodes reused) and moves on with
  // the Invoke's stream.
  std::optional<uint64_t> pending_metadata_stream_;
  Metadata pending_metadata_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_UPSTREAM_MANAGER_H_
