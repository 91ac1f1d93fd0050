// Stream: one RPC's state machine (docs/protocol.md §7), shared by both modes and both roles.
//
// A stream has five one-shot flags, each but fin holding the error it stands for (fin, which
// fibers wait on, is a Signal set with OK: its reason is term's; the other four are plain flags):
//   send    no more sends; Send returns this error
//   recv    the receive side is finished; Recv returns this after draining queued messages
//   term    terminated: no new operations; incoming packets are ignored
//   fin     finished: terminated and no operation in progress (the connection may forget it)
//   cancel  cancelled (locally or by the peer); it wins over transport errors in what Send reports
//
// What Send and Recv return after each event (docs/protocol.md §7.4, Go's TestStream_StateTransitions):
//   | after                 | Send returns                           | Recv returns                 |
//   |-----------------------|----------------------------------------|------------------------------|
//   | local Close           | "stream terminated by sending close"   | the same                     |
//   | local SendError       | EOF                                    | "stream terminated by sending error" |
//   | local CloseSend       | "send closed"                          | still works                  |
//   | local Cancel(e)       | EOF                                    | e (Canceled / DeadlineExceeded) |
//   | remote Close          | "closed: remote closed the stream"     | EOF (after queued messages)  |
//   | remote Error          | EOF                                    | the remote error (after queued messages) |
//   | remote CloseSend      | still works                            | EOF (after queued messages)  |
//   | remote Cancel         | EOF                                    | Canceled (after queued messages) |
// Local Close, SendError and Cancel drop queued messages; remote endings and the end of the
// connection let the reader drain them first.
//
// Receive buffering: messages wait in a per-stream queue. A flow-controlled stream (mux with
// Options::flow) never makes the reader wait: its sender is held to a window, and a message that
// would take the queued bytes over Limits::flow_queue_cap_bytes while the queue is not empty (the
// peer ignored flow control), or the queue over tunables::kRecvQueueFlowMaxCount messages, fails
// the stream (kResourceExhausted "receive queue cap exceeded: ..."). Otherwise the queue is
// bounded by Limits::recv_queue_max_count/bytes: the connection's reader waits for the
// application while it is full, but at most recv_stall_timeout per wait; then the stream fails
// with kResourceExhausted "receive queue full for <d>: the application is not reading stream
// <id>". Either failure is reported through StreamSink::OnStreamError, which tells the peer;
// later packets of the stream are dropped, and the reader goes on with the connection's other
// packets (docs/protocol.md §13 items 2 and 3: an unread stream never stalls the connection for
// ever).
//
// Error bodies are written and read in Limits::error_format (impl/error_body.h). A stream with
// Limits::compression (mux, docs/protocol.md §19) compresses every message it sends and
// decompresses every message it receives, bounded by Limits::message_max_bytes; a message that
// does not decompress fails that Recv (kInvalidArgument / kResourceExhausted), not the stream.
//
// Packets go out through a StreamSink (the connection's writer) and come in through
// HandlePacket (the connection's reader). A Stream is shared (std::shared_ptr) by its connection
// and its user; it belongs to one Scheduler.
#ifndef DRPC_IMPL_STREAM_H_
#define DRPC_IMPL_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/buffer_budget.h"
#include "impl/buffer_pool.h"
#include "impl/env.h"
#include "impl/fifo.h"
#include "impl/errors.h"
#include "impl/observer.h"
#include "impl/rpc_stream.h"
#include "impl/sync.h"
#include "impl/time.h"
#include "impl/tunables.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/packet.h"

namespace drpc {

class CallContext;

class Stream;

// The connection side of a stream, implemented by the upstream and mux managers. Each method is
// an event of the stream, described as what happened to it; what it means for the wire (a buffer
// flushed, a packet queued behind others) is the connection's business.
class StreamSink {
 public:
  virtual ~StreamSink() = default;

  // What the stream sends right after a packet.
  enum class Follows {
    kNothing,    // the application may wait for the peer next: the packet must be on its way
    kCloseSend,  // the stream's CloseSend comes at once (SendLast): both may leave in one write
  };

  // Sends one packet of `stream` after all its earlier packets (message IDs are assigned here, in
  // order). May block (transport back-pressure, flow control). Errors: the connection's, or the
  // `dropped` error of a terminal packet that overtook it (see SendTerminal).
  virtual absl::Status Send(Stream& stream, Kind kind, absl::string_view data,
                            Follows follows) = 0;

  // Stream::SendLast: a Message, then the stream's CloseSend unless `close_send()` (called once
  // the message is sent, never after an error) says the stream needs none any more. Must put on
  // the wire, and schedule, exactly what Send(kMessage, kCloseSend) followed by
  // Send(kCloseSend, kNothing) would; a sink may do it for less. Errors: either Send's.
  virtual absl::Status SendLast(Stream& stream, absl::string_view data,
                                absl::FunctionRef<bool()> close_send) {
    absl::Status s = Send(stream, Kind::kMessage, data, Follows::kCloseSend);
    if (!s.ok() || !close_send()) return s;
    return Send(stream, Kind::kCloseSend, "", Follows::kNothing);
  }

  // A packet that ends the stream (Close, Error, Cancel). In mux mode it goes ahead of the
  // stream's queued Message packets, whose senders then get `dropped`; upstream sends in order.
  virtual absl::Status SendTerminal(Stream& stream, Kind kind, absl::string_view data,
                                    const absl::Status& dropped) = 0;

  // The application receives on `stream` before it sent anything: the peer cannot answer what it
  // has not seen, so whatever the connection still holds back of the stream (an Invoke) must now
  // reach it. Called at most once per stream. Errors: the connection's.
  virtual absl::Status OnFirstRecv(Stream& stream) = 0;

  // A message of `wire_bytes` (as received, before decompression) left a flow-controlled stream:
  // the application took it, or it was dropped. Streams without flow control report nothing.
  virtual void OnConsumed(Stream& stream, uint64_t wire_bytes) = 0;

  // A stream-scoped failure found on receive (a message over the limit, a receive queue over its
  // cap or stalled): the sink tells the peer and terminates the stream with `error`.
  virtual void OnStreamError(Stream& stream, const absl::Status& error) = 0;

  // The stream became finished (terminated, and no operation in progress).
  virtual void OnFinished(Stream& stream) = 0;
};

class Stream final : public RpcStream {
 public:
  enum class Role { kClient, kServer };
  struct Limits {
    // Streams without flow control: the reader waits for the application beyond these.
    size_t recv_queue_max_count;
    size_t recv_queue_max_bytes;
    // Flow-controlled streams (mux with Options::flow): the most bytes the queue holds (the fork's
    // window + largest message); the reader never waits for the application. 0: no flow control.
    uint64_t flow_queue_cap_bytes = 0;
    // The longest one wait of the reader for queue space (see the top of this file).
    Duration recv_stall_timeout = tunables::kRecvStallTimeoutDefault;
    // Told each time the reader waits for queue space (Options::observer); may be null.
    ConnectionObserver* observer = nullptr;
    // How Error packets are encoded (SendError) and decoded (a remote Error).
    ErrorFormat error_format = ErrorFormat::kUpstream;
    // Mux: every message sent is compressed, every message received decompressed.
    Compression compression = Compression::kNone;
    // The largest message a decompressed body may expand to.
    size_t message_max_bytes = limits::kPacketDefaultMaxBytes;
  };

  // `pool` (the connection's, may be null) receives the buffers of consumed and dropped messages;
  // `buffers` (the connection's, may be null) counts the queued messages' bytes for as long as
  // they wait (impl/buffer_budget.h).
  Stream(Env& env, StreamSink& sink, uint64_t id, Role role, Limits limits,
         BufferPool* pool = nullptr, std::shared_ptr<ConnectionBuffers> buffers = nullptr);
  ~Stream() override;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  uint64_t id() const override { return id_; }
  Role role() const { return role_; }

  // --- Application operations (RpcStream; docs/protocol.md §7.2) -------------------------------------------
  // Sends one message (Message packet, split by the writer, on its way when this returns).
  absl::Status Send(absl::string_view message) override;
  // Sends one message and half-closes, in one transport write in upstream mode (what a Go unary
  // call and a client-streaming CloseAndRecv put on the wire).
  absl::Status SendLast(absl::string_view message) override;
  // The next message; EOF once the peer finished sending; an error if the stream ended otherwise.
  absl::StatusOr<std::string> Recv() override;
  // Like Recv, but swaps the message into *out; out's old buffer goes back to the connection's
  // buffer pool (so a loop over one string allocates nothing per message). *out is untouched on
  // error.
  absl::Status RecvInto(std::string* out) override;
  // Half close: no more messages from us. No-op if already send-closed or terminated.
  absl::Status CloseSend() override;
  // Ends the stream and tells the peer (Close packet). No-op if already terminated.
  absl::Status Close() override;
  // Ends the stream with an Error packet carrying `error` (ErrorBodyFor in the stream's format).
  // No-op if terminated.
  absl::Status SendError(const absl::Status& error) override;
  // Local cancel: terminates with `reason`, sends nothing (the manager decides what the wire
  // sees). Returns false if the stream had already finished.
  bool Cancel(const absl::Status& reason);

  // --- Connection side ---------------------------------------------------------------------------
  // A packet for this stream from the reader. Returns a connection-fatal protocol error (Invoke on
  // an existing stream, unknown non-control kind). Blocks the reader while the receive queue is
  // full (streams without flow control), at most Limits::recv_stall_timeout per message; then
  // fails the stream through StreamSink::OnStreamError and returns OK. A flow-controlled message's
  // bytes are reported through StreamSink::OnConsumed when Recv takes it or it is dropped.
  // Takes the packet's data (the caller's packet is left moved-from).
  absl::Status HandlePacket(Packet&& packet);
  // Terminates because the connection ended.
  void TerminateFromConnection(const absl::Status& error);
  // Terminates after a stream-scoped failure the sink has reported to the peer.
  void TerminateWithError(const absl::Status& error);
  // Message IDs of packets we send, in order, starting at 1.
  uint64_t NextMessageId() { return next_message_id_++; }
  // The ID the next NextMessageId() call returns.
  uint64_t PeekNextMessageId() const { return next_message_id_; }
  // Server, after the handler returned: later messages are dropped instead of queued, so an
  // unread client stream can never stall the connection's reader (docs/protocol.md §13 item 2).
  void StopReceiving();
  // Server: the context of the handler serving the stream, cancelled (Canceled) when the stream
  // terminates, right after terminated() becomes true — at once if it already is. Null: none.
  // The context must outlive its registration (the server clears it before the handler's
  // context goes).
  void set_handler_context(CallContext* ctx);

  // The watch a client stream's connection keeps on its call's context (Manager::WatchContext),
  // kept here rather than in a map of the connection's: the context's done signal and the
  // callback registered on it (signal null when none is), where a late notice of the cancel
  // fires, and the stream itself for that notice. A stream destroyed while watched removes the
  // callback (the context is alive: a context that ends runs its callbacks, which clear this).
  struct ContextWatch {
    Signal* signal = nullptr;
    Signal::CallbackId callback = 0;
    absl::string_view late_site;
    std::weak_ptr<Stream> stream;
  };
  ContextWatch& context_watch() { return context_watch_; }

  // --- State ------------------------------------------------------------------------------------
  bool terminated() const { return term_.IsSet(); }
  bool finished() const { return fin_.IsSet(); }
  bool cancelled() const { return cancel_.IsSet(); }
  // Cancel() was called (the call's context ended), as opposed to the connection ending.
  bool cancelled_locally() const { return cancelled_locally_; }
  // The peer ended its sending side (CloseSend or Close arrived): no more messages can come.
  bool peer_send_closed() const { return recv_.IsSet() && IsEof(recv_.status()); }
  Signal& finished_signal() { return fin_; }
  // The reason the stream ended (OK while it lives).
  absl::Status termination_error() const {
    return term_.IsSet() ? term_.status() : absl::OkStatus();
  }
  bool flow_controlled() const { return limits_.flow_queue_cap_bytes > 0; }
  Compression compression() const { return limits_.compression; }
  size_t queued_messages() const { return queue_.size(); }
  size_t queued_bytes() const { return queued_bytes_; }
  // Bytes of the queued messages that the sink has not been told of through OnConsumed (flow
  // control: all of queued_bytes(); otherwise 0).
  uint64_t queued_credit() const { return queued_credit_; }
  Env& env() const { return *env_; }

 private:
  class OpGuard;
  enum class How { kAbortive, kGraceful };
  // How a flag keeps the status it is set with: a copy, or the address of a constant (a status
  // that lives as long as the program, like the ones every call ends with).
  enum class Keep { kCopy, kAddress };
  void Terminate(const absl::Status& error, How how, Keep keep = Keep::kCopy);
  void MaybeFinish();
  // CloseSend's change of state: false (and nothing changed) if it has nothing to send.
  bool BeginCloseSend();
  // CloseSend's end once its packet was handed to the sink (`sent`: what the sink returned).
  absl::Status EndCloseSend(const absl::Status& sent);
  // Drops queued messages, handing their flow-control credit back.
  void DropQueue();
  absl::Status Enqueue(std::string data);
  // Flow control: the failure if a message of `size` bytes would break the queue's cap.
  absl::Status CheckFlowCap(size_t size) const;
  // The message the application receives from a queued wire body (decompressed if need be).
  absl::Status Unwrap(std::string& wire, std::string* out);
  // Whether a message of `size` bytes must wait for queue space (streams without flow control).
  bool QueueFull(size_t size) const;
  // Checked on every enqueue: the receive queue is within its bounds (one message of any size
  // may always sit alone in it).
  void CheckQueueBounds() const;
  // The reader waits while the queue is full, at most recv_stall_timeout; then the stream fails.
  void WaitForQueueSpace(size_t size);
  // Hands a buffer the stream no longer needs to the pool. Inline: most are small strings, which
  // the pool never keeps (BufferPool::Give), so nothing is called for them.
  void Recycle(std::string&& buffer) {
    if (pool_ != nullptr && buffer.capacity() > std::string().capacity()) {
      pool_->Give(std::move(buffer));
    }
  }
  // queued_bytes_ += delta (may be negative), counted in the connection's buffers.
  void AddQueuedBytes(int64_t delta);
  // The error a failed send reports: the cancel reason if cancelled (it beats transport errors).
  absl::Status SendFailure(const absl::Status& error) const;

  Env* env_;
  StreamSink* sink_;
  uint64_t id_;
  Role role_;
  Limits limits_;
  BufferPool* pool_;
  std::shared_ptr<ConnectionBuffers> buffers_;
  // A one-shot flag with the error it stands for: a Signal that nothing waits on or watches,
  // so setting one costs a store (each call sets several), and with a constant no status copy.
  class Flag {
   public:
    Flag() = default;
    // Not copyable: status_ may point at this Flag's own copy_.
    Flag(const Flag&) = delete;
    Flag& operator=(const Flag&) = delete;

    bool Set(const absl::Status& status, Keep keep = Keep::kCopy) {
      if (set_) return false;
      set_ = true;
      if (keep == Keep::kAddress) {
        status_ = &status;
      } else {
        copy_ = status;
      }
      return true;
    }
    bool IsSet() const { return set_; }
    const absl::Status& status() const { return *status_; }

   private:
    absl::Status copy_;
    const absl::Status* status_ = &copy_;
    bool set_ = false;
  };
  Flag send_, recv_, cancel_, term_;
  Signal fin_;
  struct Queued {
    std::string data;
    uint64_t credit;
  };
  Fifo<Queued> queue_;
  size_t queued_bytes_ = 0;
  uint64_t queued_credit_ = 0;
  WaitList readers_;          // Recv waiting for a message
  WaitList space_;            // the connection's reader waiting for queue space
  int ops_in_progress_ = 0;
  bool cancelled_locally_ = false;  // Cancel() was called: Recv reports cancel_, nothing else
  uint64_t next_message_id_ = 1;
  bool used_ = false;         // the application sent or received on the stream (OnFirstRecv)
  ContextWatch context_watch_;
  CallContext* handler_context_ = nullptr;
};

}  // namespace drpc

#endif  // DRPC_IMPL_STREAM_H_
