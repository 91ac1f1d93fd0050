#include "impl/stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/context.h"
#include "impl/situations.h"
#include "impl/error_body.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"

namespace drpc {
namespace {

// The statuses every call ends with, built once and never destroyed: a flag keeps the address
// of one (Keep::kAddress), so a call neither allocates their messages nor copies them.
template <typename Make>
const absl::Status& Constant(Make make) {
  static const absl::Status* const status = new absl::Status(make());
  return *status;
}
const absl::Status& SendClosedError() {
  return Constant([] { return absl::FailedPreconditionError("send closed"); });
}
const absl::Status& TerminatedByCloseError() {
  return Constant(
      [] { return absl::FailedPreconditionError("stream terminated by sending close"); });
}
const absl::Status& TerminatedByErrorError() {
  return Constant(
      [] { return absl::FailedPreconditionError("stream terminated by sending error"); });
}
const absl::Status& BothClosedError() {
  return Constant([] {
    return absl::FailedPreconditionError("stream terminated by both issuing close send");
  });
}
const absl::Status& HandlerReturnedError() {
  return Constant([] { return ClosedError("handler returned"); });
}
const absl::Status& RemoteClosedError() {
  return Constant([] { return ClosedError("remote closed the stream"); });
}
const absl::Status& Eof() {
  return Constant([] { return EofError(); });
}
const absl::Status& Canceled() {
  return Constant([] { return CanceledError(); });
}

}  // namespace

// Counts an application operation in progress: a stream is finished only when terminated and
// idle, so its connection never forgets a stream a fiber is still inside.
class Stream::OpGuard {
 public:
  explicit OpGuard(Stream* s) : s_(s) { ++s_->ops_in_progress_; }
  ~OpGuard() {
    --s_->ops_in_progress_;
    s_->MaybeFinish();
  }

 private:
  Stream* s_;
};

Stream::Stream(Env& env, StreamSink& sink, uint64_t id, Role role, Limits limits,
               BufferPool* pool, std::shared_ptr<ConnectionBuffers> buffers)
    : env_(&env),
      sink_(&sink),
      id_(id),
      role_(role),
      limits_(limits),
      pool_(pool),
      buffers_(std::move(buffers)),
      fin_(env),
      readers_(env),
      space_(env) {}

Stream::~Stream() {
  DRPC_CHECK_EQ(ops_in_progress_, 0) << "stream " << id_ << " destroyed in use";
  if (context_watch_.signal != nullptr) {
    context_watch_.signal->RemoveCallback(context_watch_.callback);
  }
  // Messages never taken leave with the stream.
  if (buffers_ != nullptr) buffers_->Sub(ConnectionBuffers::Kind::kQueued, queued_bytes_);
}

void Stream::AddQueuedBytes(int64_t delta) {
  DRPC_DCHECK(delta >= 0 || static_cast<size_t>(-delta) <= queued_bytes_);
  queued_bytes_ += delta;
  if (buffers_ == nullptr) return;
  if (delta > 0) buffers_->Add(ConnectionBuffers::Kind::kQueued, static_cast<size_t>(delta));
  if (delta < 0) buffers_->Sub(ConnectionBuffers::Kind::kQueued, static_cast<size_t>(-delta));
}

absl::Status Stream::SendFailure(const absl::Status& error) const {
  if (cancel_.IsSet()) return cancel_.status();
  return error;
}

absl::Status Stream::Send(absl::string_view message) {
  OpGuard op(this);
  if (send_.IsSet()) return send_.status();
  if (term_.IsSet()) return term_.status();
  used_ = true;
  absl::Status s;
  if (limits_.compression == Compression::kNone) {
    s = sink_->Send(*this, Kind::kMessage, message, StreamSink::Follows::kNothing);
  } else {
    s = sink_->Send(*this, Kind::kMessage, CompressMessage(limits_.compression, message),
                    StreamSink::Follows::kNothing);
  }
  if (!s.ok()) return SendFailure(s);
  return absl::OkStatus();
}

absl::Status Stream::SendLast(absl::string_view message) {
  OpGuard op(this);
  if (send_.IsSet()) return send_.status();
  if (term_.IsSet()) return term_.status();
  used_ = true;
  // The CloseSend follows at once: the connection may send both in one write. It is skipped, as
  // CloseSend() would skip it, if the stream ended while the message was sent; whether it was
  // begun decides which of the two reports a failure.
  bool closing = false;
  const auto close_send = [this, &closing] { return closing = BeginCloseSend(); };
  const absl::Status s =
      limits_.compression == Compression::kNone
          ? sink_->SendLast(*this, message, close_send)
          : sink_->SendLast(*this, CompressMessage(limits_.compression, message), close_send);
  if (closing) return EndCloseSend(s);
  return s.ok() ? s : SendFailure(s);
}

absl::StatusOr<std::string> Stream::Recv() {
  std::string out;
  if (absl::Status s = RecvInto(&out); !s.ok()) return s;
  return out;
}

absl::Status Stream::RecvInto(std::string* out) {
  OpGuard op(this);
  if (!used_) {
    // A receive before any send (Go's checkRecvFlush): the peer cannot answer an Invoke it never
    // saw.
    used_ = true;
    if (absl::Status s = sink_->OnFirstRecv(*this); !s.ok() && !term_.IsSet()) {
      return SendFailure(s);
    }
  }
  for (;;) {
    // A call cancelled here reports its cancellation (docs/protocol.md §7.4, §11.3), even if the peer had
    // already finished sending: the messages were dropped, so "EOF" would claim a clean end.
    if (cancelled_locally_) return cancel_.status();
    if (!queue_.empty()) {
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      AddQueuedBytes(-static_cast<int64_t>(q.data.size()));
      queued_credit_ -= q.credit;
      space_.WakeOne();
      // Credit counts what the peer sent: the wire bytes, before decompression.
      if (q.credit > 0) sink_->OnConsumed(*this, q.credit);
      return Unwrap(q.data, out);
    }
    if (recv_.IsSet()) return recv_.status();
    if (term_.IsSet()) return term_.status();
    readers_.Wait("stream recv: waiting for a message");
  }
}

absl::Status Stream::CloseSend() {
  OpGuard op(this);
  if (!BeginCloseSend()) return absl::OkStatus();
  return EndCloseSend(sink_->Send(*this, Kind::kCloseSend, "", StreamSink::Follows::kNothing));
}

bool Stream::BeginCloseSend() {
  if (send_.IsSet() || term_.IsSet()) return false;
  send_.Set(SendClosedError(), Keep::kAddress);
  used_ = true;
  return true;
}

absl::Status Stream::EndCloseSend(const absl::Status& sent) {
  if (recv_.IsSet()) Terminate(BothClosedError(), How::kGraceful, Keep::kAddress);
  return sent.ok() ? sent : SendFailure(sent);
}

absl::Status Stream::Close() {
  OpGuard op(this);
  if (term_.IsSet()) return absl::OkStatus();
  Terminate(TerminatedByCloseError(), How::kAbortive, Keep::kAddress);
  used_ = true;
  absl::Status s = sink_->SendTerminal(*this, Kind::kClose, "", TerminatedByCloseError());
  return s.ok() ? s : SendFailure(s);
}

absl::Status Stream::SendError(const absl::Status& error) {
  OpGuard op(this);
  if (term_.IsSet()) return absl::OkStatus();
  const std::string body = ErrorBodyFor(limits_.error_format, error);
  send_.Set(Eof(), Keep::kAddress);
  Terminate(TerminatedByErrorError(), How::kAbortive, Keep::kAddress);
  used_ = true;
  absl::Status s = sink_->SendTerminal(*this, Kind::kError, body, TerminatedByErrorError());
  return s.ok() ? s : SendFailure(s);
}

bool Stream::Cancel(const absl::Status& reason) {
  if (fin_.IsSet()) return false;
  cancelled_locally_ = true;
  if (ops_in_progress_ > 0) env_->chaos().Reach(situations::kStreamCancelDuringAnOperation);
  cancel_.Set(reason);
  send_.Set(Eof(), Keep::kAddress);
  Terminate(reason, How::kAbortive);
  return true;
}

void Stream::TerminateFromConnection(const absl::Status& error) {
  cancel_.Set(error);
  // Messages already received were received whole: the application still gets them, then the
  // connection's error (a reply that arrived just before the connection closed is not lost).
  if (!queue_.empty()) env_->chaos().Reach(situations::kStreamConnectionEndedWithMessagesQueued);
  Terminate(error, How::kGraceful);
}

void Stream::TerminateWithError(const absl::Status& error) {
  send_.Set(Eof(), Keep::kAddress);
  Terminate(error, How::kAbortive);
}

void Stream::DropQueue() {
  uint64_t credit = 0;
  for (size_t i = 0; i < queue_.size(); ++i) {
    credit += queue_[i].credit;
    Recycle(std::move(queue_[i].data));
  }
  DRPC_DCHECK_EQ(credit, queued_credit_);
  queue_.clear();
  AddQueuedBytes(-static_cast<int64_t>(queued_bytes_));
  queued_credit_ = 0;
  if (credit > 0) sink_->OnConsumed(*this, credit);
}

void Stream::set_handler_context(CallContext* ctx) {
  handler_context_ = ctx;
  if (ctx != nullptr && term_.IsSet()) ctx->Cancel(Canceled());
}

void Stream::StopReceiving() {
  recv_.Set(HandlerReturnedError(), Keep::kAddress);
  DropQueue();
  space_.WakeAll();
  readers_.WakeAll();
}

absl::Status Stream::HandlePacket(Packet&& packet) {
  if (term_.IsSet()) {
    env_->chaos().Reach(situations::kStreamPacketAfterTheStreamEnded);
    // Late packets for an ended stream are ignored (their bytes are accounted as consumed).
    if (packet.kind == Kind::kMessage && flow_controlled()) {
      sink_->OnConsumed(*this, packet.data.size());
    }
    Recycle(std::move(packet.data));
    return absl::OkStatus();
  }
  switch (packet.kind) {
    case Kind::kMessage:
      return Enqueue(std::move(packet.data));
    case Kind::kInvoke:
      return ProtocolError(absl::StrCat("invoke on existing stream ", id_));
    case Kind::kError: {
      if (!queue_.empty()) env_->chaos().Reach(situations::kStreamRemoteErrorBehindQueuedMessages);
      // An undecodable body (the other format, garbage) ends the stream with a protocol error
      // saying why (impl/error_body.h): never silently read as the other format.
      const absl::Status remote = StatusFromErrorBody(limits_.error_format, packet.data);
      send_.Set(Eof(), Keep::kAddress);
      Terminate(remote, How::kGraceful);
      return absl::OkStatus();
    }
    case Kind::kCancel:
      if (recv_.IsSet()) {
        env_->chaos().Reach(situations::kStreamCancelArrivedAfterThePeersCloseSend);
      }
      cancel_.Set(Canceled(), Keep::kAddress);
      send_.Set(Eof(), Keep::kAddress);
      Terminate(Canceled(), How::kGraceful, Keep::kAddress);
      return absl::OkStatus();
    case Kind::kClose:
      if (!queue_.empty()) env_->chaos().Reach(situations::kStreamRemoteCloseBehindQueuedMessages);
      recv_.Set(Eof(), Keep::kAddress);
      Terminate(RemoteClosedError(), How::kGraceful, Keep::kAddress);
      return absl::OkStatus();
    case Kind::kCloseSend:
      recv_.Set(Eof(), Keep::kAddress);
      readers_.WakeAll();
      if (send_.IsSet()) Terminate(BothClosedError(), How::kGraceful, Keep::kAddress);
      return absl::OkStatus();
    default:
      if (packet.control) return absl::OkStatus();  // forward compatibility (docs/protocol.md §3)
      return ProtocolError(absl::StrCat("unknown packet kind ", KindName(packet.kind),
                                        " on existing stream ", id_));
  }
}

bool Stream::QueueFull(size_t size) const {
  return !term_.IsSet() && !recv_.IsSet() && !queue_.empty() &&
         (queue_.size() >= limits_.recv_queue_max_count ||
          queued_bytes_ + size > limits_.recv_queue_max_bytes);
}

void Stream::WaitForQueueSpace(size_t size) {
  DRPC_DCHECK(!flow_controlled());
  // Bounded queue: the connection's reader waits for the application, and the transport's
  // back-pressure reaches the peer. It stops waiting as soon as the stream ends, as soon as the
  // application takes a message, and at the latest after recv_stall_timeout: a stream nobody
  // reads must not hold up the Cancel, Close or next Invoke queued behind it (docs/protocol.md §13 items 2,3).
  if (!QueueFull(size)) return;
  const Instant deadline = env_->clock().Now() + limits_.recv_stall_timeout;
  while (QueueFull(size)) {
    env_->chaos().Reach(situations::kStreamReaderWaitedForQueueSpace);
    if (limits_.observer != nullptr) limits_.observer->OnRecvQueueBlocked();
    if (!space_.Wait("reader: stream receive queue full", deadline) && QueueFull(size)) {
      env_->chaos().Reach(situations::kStreamReceiveStallFailedTheStream);
      sink_->OnStreamError(
          *this, absl::ResourceExhaustedError(absl::StrCat(
                     "receive queue full for ", limits_.recv_stall_timeout.ToString(),
                     ": the application is not reading stream ", id_)));
      return;
    }
  }
}

void Stream::CheckQueueBounds() const {
  // Our own invariant, not the peer's behaviour: the reader waits for space (or fails the
  // stream) before it queues, so a queue over its bounds is a bug here. Cheap enough to check in
  // every build, so the simulator's optimised sweeps check it too.
  const bool flow = flow_controlled();
  const size_t count_max = flow ? tunables::kRecvQueueFlowMaxCount : limits_.recv_queue_max_count;
  const size_t bytes_max = flow ? limits_.flow_queue_cap_bytes : limits_.recv_queue_max_bytes;
  DRPC_CHECK_LE(queue_.size(), count_max) << "stream " << id_ << ": receive queue over its count";
  if (queue_.size() > 1) {
    DRPC_CHECK_LE(queued_bytes_, bytes_max) << "stream " << id_ << ": receive queue over its bytes";
  }
}

absl::Status Stream::CheckFlowCap(size_t size) const {
  // An empty queue takes any one message (the fork's rule): the cap is about the peer sending on
  // after its window, not about one large message.
  if (queue_.empty()) return absl::OkStatus();
  if (queued_bytes_ + size > limits_.flow_queue_cap_bytes) {
    return absl::ResourceExhaustedError(RecvQueueCapErrorText(limits_.flow_queue_cap_bytes));
  }
  if (queue_.size() >= tunables::kRecvQueueFlowMaxCount) {
    return absl::ResourceExhaustedError(
        absl::StrCat("receive queue cap exceeded: receive queue exceeded its ",
                     tunables::kRecvQueueFlowMaxCount, "-message cap"));
  }
  return absl::OkStatus();
}

absl::Status Stream::Enqueue(std::string data) {
  uint64_t credit = 0;
  if (flow_controlled()) {
    // The reader never waits here: the peer's sender is held to a window (and overdraws by at
    // most one message), so a queue over the cap means it ignored flow control.
    credit = data.size();
    if (absl::Status cap = CheckFlowCap(data.size()); !cap.ok() && !term_.IsSet() && !recv_.IsSet()) {
      env_->chaos().Reach(situations::kStreamFlowQueueCapFailedTheStream);
      sink_->OnConsumed(*this, credit);
      Recycle(std::move(data));
      sink_->OnStreamError(*this, cap);
      return absl::OkStatus();
    }
  } else {
    WaitForQueueSpace(data.size());
  }
  if (term_.IsSet() || recv_.IsSet()) {
    // The receive side is over (the peer said so, our handler returned, or the stream ended
    // while we waited): drop the message.
    if (credit > 0) sink_->OnConsumed(*this, credit);
    Recycle(std::move(data));
    return absl::OkStatus();
  }
  AddQueuedBytes(static_cast<int64_t>(data.size()));
  queued_credit_ += credit;
  queue_.push_back({std::move(data), credit});
  CheckQueueBounds();
  readers_.WakeOne();
  return absl::OkStatus();
}

absl::Status Stream::Unwrap(std::string& wire, std::string* out) {
  if (limits_.compression == Compression::kNone) {
    if (out->capacity() <= std::string().capacity()) {
      *out = std::move(wire);  // the caller's old buffer is nothing the pool would keep
      return absl::OkStatus();
    }
    out->swap(wire);
    Recycle(std::move(wire));  // the caller's old buffer
    return absl::OkStatus();
  }
  // Bounded before anything is allocated: a body stating a length over the limit (a
  // decompression bomb) fails here. Only this receive fails (the fork's rule); the stream lives.
  // Decoded aside, so *out is untouched when the body is bad.
  std::string decoded = pool_ != nullptr ? pool_->Take() : std::string();
  absl::Status s = DecompressMessage(limits_.compression, wire, limits_.message_max_bytes, &decoded);
  Recycle(std::move(wire));
  if (!s.ok()) {
    env_->chaos().Reach(situations::kStreamMessageDidNotDecompress);
    Recycle(std::move(decoded));
    return s;
  }
  out->swap(decoded);
  Recycle(std::move(decoded));  // the caller's old buffer
  return absl::OkStatus();
}

void Stream::Terminate(const absl::Status& error, How how, Keep keep) {
  send_.Set(error, keep);
  recv_.Set(error, keep);
  if (how == How::kAbortive) DropQueue();
  if (term_.Set(error, keep) && handler_context_ != nullptr) handler_context_->Cancel(Canceled());
  readers_.WakeAll();
  space_.WakeAll();
  MaybeFinish();
}

void Stream::MaybeFinish() {
  if (!term_.IsSet() || fin_.IsSet() || ops_in_progress_ > 0) return;
  fin_.Set();
  sink_->OnFinished(*this);
}

}  // namespace drpc
