#include "impl/mux_writer.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "impl/situations.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/splitter.h"
#include "proto/window.h"

namespace drpc {
namespace {

bool IsTerminal(Kind kind) {
  return kind == Kind::kClose || kind == Kind::kError || kind == Kind::kCancel;
}

}  // namespace

struct MuxWriter::Completion {
  int remaining = 0;
  absl::Status status;
  Fiber* waiter = nullptr;
};

void MuxWriter::Batch::clear() {
  used_ = 0;
  gathered.clear();
  gathered_bytes = 0;
}

void MuxWriter::Batch::Release() {
  DRPC_DCHECK(gathered.empty());
  std::string().swap(buffer_);
  used_ = 0;
}

void MuxWriter::Batch::Grow(size_t header_bytes, size_t data_bytes) {
  // std::string's growth: an append past the capacity makes it max(new size, 2 * capacity).
  size_t capacity = buffer_.capacity();
  for (const size_t end : {used_ + header_bytes, used_ + header_bytes + data_bytes}) {
    if (end > capacity) capacity = std::max(end, 2 * capacity);
  }
  // Growing to at least twice the capacity, reserve allocates exactly `capacity`.
  if (capacity > buffer_.capacity()) buffer_.reserve(capacity);
  Expose(used_ + header_bytes + data_bytes);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void MuxWriter::Batch::AppendFrame(
    PacketId id, Kind kind, bool done, bool control, absl::string_view data, bool gather) {
  const size_t copied = gather ? 0 : data.size();
  char* out;
  size_t header_bytes;
  if (const size_t end = used_ + limits::kFrameHeaderMaxBytes + copied;
      end <= buffer_.capacity()) {
    // Room for the longest header and the body: written in place, no growth.
    Expose(end);
    out = buffer_.data() + used_;
    header_bytes = EncodeFrameHeader(id, kind, done, control, data.size(), out);
  } else {
    char header[limits::kFrameHeaderMaxBytes];
    header_bytes = EncodeFrameHeader(id, kind, done, control, data.size(), header);
    Grow(header_bytes, copied);
    out = buffer_.data() + used_;
    std::memcpy(out, header, header_bytes);
  }
  used_ += header_bytes;
  if (gather) {
    gathered.push_back({used_, data});
    gathered_bytes += data.size();
  } else if (copied > 0) {
    std::memcpy(out + header_bytes, data.data(), copied);
    used_ += copied;
  }
}

void MuxWriter::Batch::Pieces(std::vector<absl::string_view>& out) const {
  const absl::string_view all = bytes();
  size_t start = 0;
  for (const Slice& slice : gathered) {
    if (slice.bytes_end > start) out.push_back(all.substr(start, slice.bytes_end - start));
    out.push_back(slice.data);
    start = slice.bytes_end;
  }
  if (all.size() > start) out.push_back(all.substr(start));
}

void MuxWriter::Batch::Detach() {
  if (gathered.empty()) return;
  const absl::string_view all = bytes();
  std::string own;
  own.reserve(size());
  size_t start = 0;
  for (const Slice& slice : gathered) {
    own.append(all.data() + start, slice.bytes_end - start);
    own.append(slice.data.data(), slice.data.size());
    start = slice.bytes_end;
  }
  own.append(all.data() + start, all.size() - start);
  buffer_.swap(own);
  used_ = buffer_.size();
  gathered.clear();
  gathered_bytes = 0;
}

MuxWriter::MuxWriter(Env& env, Transport& transport, Options options,
                     absl::AnyInvocable<void(const absl::Status&)> on_write_error,
                     absl::AnyInvocable<uint64_t(uint64_t)> take_window_grant,
                     absl::AnyInvocable<void(uint64_t)> on_credit_stall)
    : env_(&env),
      transport_(&transport),
      options_(options),
      on_write_error_(std::move(on_write_error)),
      take_window_grant_(std::move(take_window_grant)),
      on_credit_stall_(std::move(on_credit_stall)),
      control_space_(env),
      wake_(env) {
  DRPC_CHECK_GE(options_.split_bytes, limits::kSplitMinBytes);
  DRPC_CHECK_GE(options_.batch_max_bytes, 1u);
}

MuxWriter::~MuxWriter() {
  queues_.ForEach([this](uint64_t id, StreamQueue& q) {
    DRPC_CHECK(q.packets.empty()) << "mux writer destroyed with packets queued for stream " << id;
    DisarmStallTimer(q);
  });
  while (spare_packets_ != nullptr) delete std::exchange(spare_packets_, spare_packets_->next);
}

void MuxWriter::AddStream(uint64_t stream, bool flow_controlled, uint64_t send_credit,
                          bool local_invoke) {
  StreamQueue* found = queues_.Find(stream);
  const bool inserted = found == nullptr;
  StreamQueue& q = inserted ? queues_.Insert(stream) : *found;
  q.id = stream;
  DRPC_CHECK_COLD(q.packets.empty() && (inserted || q.removed),
                  [&](std::ostream& os) { os << "stream " << stream << " added twice"; });
  DRPC_CHECK_LE(send_credit, uint64_t{limits::kSendCreditMaxBytes});
  if (!inserted) {
    // A reused ID whose old queue drained but still sits in the ready list: start afresh there.
    const bool in_ready = q.in_ready;
    DisarmStallTimer(q);
    q.flow_controlled = false;
    q.credit = 0;
    q.stall_timer = 0;
    q.removed = false;
    q.peer_knows = true;
    q.last_message = 0;
    q.in_ready = in_ready;
  }
  q.flow_controlled = flow_controlled;
  q.credit = static_cast<int64_t>(send_credit);
  q.peer_knows = !local_invoke;
  if (local_invoke && AnyStreamWaitsForCredit()) {
    env_->chaos().Reach(situations::kMuxInvokeWhileAnotherWindowIsExhausted);
  }
}

bool MuxWriter::AnyStreamWaitsForCredit() {
  // Entries are noted when a stream is found waiting and checked (and dropped if stale) here.
  for (auto it = credit_waiters_.begin(); it != credit_waiters_.end();) {
    const StreamQueue* q = queues_.Find(*it);
    if (q != nullptr && WaitsForCredit(*q)) return true;
    it = credit_waiters_.erase(it);
  }
  return false;
}

bool MuxWriter::WaitsForCredit(const StreamQueue& q) const {
  return q.flow_controlled && !q.packets.empty() && !Sendable(q);
}

void MuxWriter::RemoveStream(uint64_t stream) {
  StreamQueue* q = queues_.Find(stream);
  if (q == nullptr) return;
  q->removed = true;
  if (q->packets.empty() && !q->in_ready) Erase(stream, *q);
}

bool MuxWriter::HasFramesToWrite(uint64_t stream) const {
  const StreamQueue* q = queues_.Find(stream);
  return q != nullptr && !q->packets.empty();
}

void MuxWriter::Erase(uint64_t stream, StreamQueue& q) {
  DRPC_DCHECK(q.packets.empty());
  DisarmStallTimer(q);
  queues_.Erase(stream);
}

void MuxWriter::AddCredit(uint64_t stream, uint64_t delta) {
  DRPC_DCHECK_LE(1u, delta);
  StreamQueue* found = queues_.Find(stream);
  if (found == nullptr || !found->flow_controlled) return;
  StreamQueue& q = *found;
  if (q.credit < 0) env_->chaos().Reach(situations::kMuxGrantRepaidAnOverdraft);
  if (!q.packets.empty() && q.packets.front().kind == Kind::kMessage &&
      q.packets.front().offset > 0) {
    env_->chaos().Reach(situations::kMuxGrantArrivedBetweenFramesOfAMessage);
  }
  // Saturating: room is at most 2^64 - 1 (credit >= INT64_MIN), computed without overflow.
  const uint64_t room =
      static_cast<uint64_t>(limits::kSendCreditMaxBytes) - static_cast<uint64_t>(q.credit);
  q.credit = delta >= room ? limits::kSendCreditMaxBytes
                           : static_cast<int64_t>(static_cast<uint64_t>(q.credit) + delta);
  // A grant is progress: a stream still waiting starts a fresh stall timeout.
  DisarmStallTimer(q);
  MarkReady(stream, q);
  UpdateStallTimer(stream, q);
}

int64_t MuxWriter::send_credit(uint64_t stream) const {
  const StreamQueue* q = queues_.Find(stream);
  return q == nullptr ? 0 : q->credit;
}

void MuxWriter::DisarmStallTimer(StreamQueue& q) {
  if (q.stall_timer == 0) return;
  env_->clock().Cancel(q.stall_timer);
  q.stall_timer = 0;
}

inline void MuxWriter::UpdateStallTimer(uint64_t stream, StreamQueue& q) {
  // Streams without flow control never wait for credit, nor have a timer to disarm.
  if (!q.flow_controlled && q.stall_timer == 0) return;
  UpdateFlowStallTimer(stream, q);
}

void MuxWriter::UpdateFlowStallTimer(uint64_t stream, StreamQueue& q) {
  if (!WaitsForCredit(q) || stopped_) {
    DisarmStallTimer(q);
    return;
  }
  if (q.stall_timer != 0 || on_credit_stall_ == nullptr) return;
  q.stall_timer = env_->clock().ScheduleAt(
      env_->clock().Now() + options_.credit_stall_timeout, [this, stream] {
        StreamQueue* q = queues_.Find(stream);
        DRPC_CHECK(q != nullptr) << "stall timer of a forgotten stream " << stream;
        q->stall_timer = 0;
        if (WaitsForCredit(*q)) on_credit_stall_(stream);
      });
}

inline bool MuxWriter::NextFrame(const StreamQueue& q, const Pending& p, size_t* bytes,
                                 bool* last) const {
  const size_t remaining = p.data.size() - p.offset;
  if (!p.splittable) {
    *bytes = remaining;
    *last = true;
    return true;
  }
  const size_t n = std::min(options_.split_bytes, remaining);
  // Flow control gates only a message's first frame: it waits until the credit covers it (an
  // empty message: until the credit is not negative). The rest of the message follows without
  // waiting, overdrawing the credit (docs/protocol.md §17.2).
  if (p.kind == Kind::kMessage && q.flow_controlled && p.offset == 0 &&
      q.credit < static_cast<int64_t>(n)) {
    return false;
  }
  *bytes = n;
  *last = n == remaining;
  return true;
}

inline bool MuxWriter::Sendable(const StreamQueue& q) const {
  if (q.packets.empty()) return false;
  size_t bytes;
  bool last;
  return NextFrame(q, q.packets.front(), &bytes, &last);
}

inline void MuxWriter::MarkReady(uint64_t stream, StreamQueue& q) {
  UpdateStallTimer(stream, q);
  if (q.in_ready) return;
  if (!Sendable(q)) {
    NoteWaitingForCredit(stream, q);
    return;
  }
  q.in_ready = true;
  PushReady(q);
  Wake();
}

void MuxWriter::NoteWaitingForCredit(uint64_t stream, const StreamQueue& q) {
  if (WaitsForCredit(q)) credit_waiters_.insert(stream);
}

void MuxWriter::PushReady(StreamQueue& q) {
  q.next_ready = nullptr;
  (ready_head_ == nullptr ? ready_head_ : ready_tail_->next_ready) = &q;
  ready_tail_ = &q;
}

void MuxWriter::Enqueue(StreamQueue& q, const Packet& packet, Completion* completion, bool owned,
                        size_t index_in_group, size_t group_size) {
  // Queued in the order the stream numbered them, so frames leave with rising message IDs (the
  // peer's assembler rejects anything else as a protocol error).
  DRPC_CHECK_COLD(packet.id.message > q.last_message, [&](std::ostream& os) {
    os << "(" << packet.id.message << " vs. " << q.last_message << ") stream "
       << packet.id.stream << ": " << KindName(packet.kind) << " queued out of order";
  });
  q.last_message = packet.id.message;
  Pending* p = spare_packets_;
  DRPC_DCHECK(p == nullptr || p->owned.empty());
  if (p != nullptr) {
    spare_packets_ = p->next;
    --spare_packet_count_;
  } else {
    p = new Pending;
  }
  p->id = packet.id;
  p->kind = packet.kind;
  p->splittable = IsSplittableKind(packet.kind);
  p->control = packet.control;
  p->completion = completion;
  p->offset = 0;
  p->in_group = group_size > 1;
  p->last_of_group = index_in_group + 1 == group_size;
  if (owned) {
    if (packet.donor != nullptr) {
      DRPC_DCHECK(packet.donor->data() == packet.data.data() &&
                  packet.donor->size() == packet.data.size());
      p->owned.swap(*packet.donor);
    } else {
      p->owned.append(packet.data.data(), packet.data.size());  // empty: a spare or new record
    }
    p->data = p->owned;
    if (options_.buffers != nullptr) {
      p->charged_bytes = p->owned.size();
      options_.buffers->Add(ConnectionBuffers::Kind::kWriting, p->charged_bytes);
    }
  } else {
    p->data = packet.data;
  }
  q.packets.push_back(p);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void MuxWriter::Recycle(Pending* p) {
  if (p->charged_bytes > 0) {
    options_.buffers->Sub(ConnectionBuffers::Kind::kWriting, std::exchange(p->charged_bytes, 0));
  }
  if (spare_packet_count_ >= tunables::kMuxPacketSpareMaxCount) {
    delete p;
    return;
  }
  if (p->owned.capacity() > tunables::kMuxPacketSpareKeepMaxBytes) {
    std::string().swap(p->owned);
  } else {
    p->owned.clear();
  }
  p->data = absl::string_view();
  p->completion = nullptr;
  p->next = spare_packets_;
  spare_packets_ = p;
  ++spare_packet_count_;
}

void MuxWriter::FailAll(Pending* p, const absl::Status& error) {
  // Every sender is told before any copy is uncounted.
  for (Pending* f = p; f != nullptr; f = f->next) Fail(*f, error);
  while (p != nullptr) Recycle(std::exchange(p, p->next));
}

void MuxWriter::Complete(Completion* c, const absl::Status& status) {
  if (c == nullptr) return;
  if (!status.ok() && c->status.ok()) c->status = status;
  if (--c->remaining == 0 && c->waiter != nullptr) env_->scheduler().Unpark(c->waiter);
}

void MuxWriter::Fail(Pending& p, const absl::Status& error) { Complete(p.completion, error); }

absl::Status MuxWriter::WaitFor(Completion& c) {
  c.waiter = env_->scheduler().Current();
  DRPC_CHECK(c.waiter != nullptr) << "MuxWriter::Write must be called from a fiber";
  while (c.remaining > 0) env_->scheduler().Park("mux writer: waiting for the packet to be written");
  return c.status;
}

absl::Status MuxWriter::Write(uint64_t stream, std::initializer_list<Packet> packets) {
  if (stopped_) return error_;
  StreamQueue* q = queues_.Find(stream);
  if (q == nullptr || q->removed) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " is not writable"));
  }
  Completion c;
  c.remaining = static_cast<int>(packets.size());
  size_t i = 0;
  for (const Packet& p : packets) Enqueue(*q, p, &c, /*owned=*/false, i++, packets.size());
  MarkReady(stream, *q);
  return WaitFor(c);
}

absl::Status MuxWriter::WriteQueued(uint64_t stream, Packet packet) {
  if (stopped_) return error_;
  StreamQueue* found = queues_.Find(stream);
  if (found == nullptr || found->removed) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " is not writable"));
  }
  StreamQueue& q = *found;
  if (q.packets.size() >= tunables::kWriteQueuedMaxCount) return Write(stream, {packet});
  // Only a packet that can leave without more credit from the peer is queued: the caller may end
  // the stream right after (SendLast's CloseSend), and a peer that then cancels grants nothing
  // more, so a queued packet waiting for credit would never leave. Such a packet waits instead.
  if (packet.kind == Kind::kMessage && q.flow_controlled) {
    // The Messages queued ahead (data left), then ours: all within the credit, so none waits.
    uint64_t charge = packet.data.size();
    for (const Pending* p = q.packets.head(); p != nullptr; p = p->next) {
      if (p->kind == Kind::kMessage) charge += p->data.size() - p->offset;
    }
    if (q.credit < 0 || static_cast<uint64_t>(q.credit) < charge) return Write(stream, {packet});
  }
  Enqueue(q, packet, nullptr, /*owned=*/true);
  MarkReady(stream, q);
  return absl::OkStatus();
}

void MuxWriter::WriteAsync(uint64_t stream, std::initializer_list<Packet> packets) {
  if (stopped_) return;
  StreamQueue* q = queues_.Find(stream);
  if (q == nullptr) return;
  size_t i = 0;
  for (const Packet& p : packets) Enqueue(*q, p, nullptr, /*owned=*/true, i++, packets.size());
  MarkReady(stream, *q);
}

absl::Status MuxWriter::QueueTerminal(uint64_t stream, Packet packet, const absl::Status& dropped,
                                      Completion* completion) {
  DRPC_CHECK(IsTerminal(packet.kind)) << KindName(packet.kind);
  if (stopped_) return error_;
  StreamQueue* found = queues_.Find(stream);
  if (found == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " is not writable"));
  }
  StreamQueue& q = *found;
  if (q.flow_controlled && q.credit < 0) {
    env_->chaos().Reach(situations::kMuxStreamEndedWithItsCreditOverdrawn);
  }
  if (!q.peer_knows) {
    env_->chaos().Reach(situations::kMuxStreamEndedBeforeItsInvokeWasWritten);
    // Nothing of the stream has been written (its Invoke is still queued): the peer never hears
    // of it, so nothing is sent at all — neither its queued packets nor this terminal one.
    FailAll(q.packets.TakeAll(), dropped);
    Complete(completion, absl::OkStatus());
    return absl::OkStatus();
  }
  DropNonTerminal(stream, q, dropped);
  Enqueue(q, packet, completion, /*owned=*/completion == nullptr);
  MarkReady(stream, q);
  return absl::OkStatus();
}

void MuxWriter::CompleteInFlight(const absl::Status& status) {
  for (const InFlight& f : in_flight_) {
    if (f.completion != nullptr) Complete(f.completion, status);
  }
  in_flight_.clear();
}

void MuxWriter::DropNonTerminal(uint64_t stream, StreamQueue& q, const absl::Status& dropped) {
  // Packets whose last frame is in the batch being written: their senders need not wait for a
  // write that may block for long (the peer not reading) — what the write still has to send is
  // the batch's own copy (WritePieces), and the terminal packet follows them on the wire.
  for (InFlight& f : in_flight_) {
    if (f.stream != stream || f.completion == nullptr) continue;
    env_->chaos().Reach(situations::kMuxTerminalReleasedASenderOfAWriteInProgress);
    Complete(f.completion, dropped);
    f.completion = nullptr;
  }
  // Earlier terminal packets stay, in order.
  for (Pending* p = q.packets.TakeAll(); p != nullptr;) {
    Pending* next = p->next;
    if (IsTerminal(p->kind)) {
      q.packets.push_back(p);
    } else {
      Fail(*p, dropped);
      Recycle(p);
    }
    p = next;
  }
}

void MuxWriter::DiscardQueued(uint64_t stream, const absl::Status& dropped) {
  StreamQueue* q = queues_.Find(stream);
  if (q == nullptr) return;
  if (!q->packets.empty()) {
    env_->chaos().Reach(situations::kMuxPeerEndedAStreamWithWritesQueued);
  }
  DropNonTerminal(stream, *q, dropped);
  UpdateStallTimer(stream, *q);
  if (q->removed && q->packets.empty() && !q->in_ready) Erase(stream, *q);
}

absl::Status MuxWriter::WriteTerminal(uint64_t stream, Packet packet, const absl::Status& dropped) {
  Completion c;
  c.remaining = 1;
  if (absl::Status s = QueueTerminal(stream, packet, dropped, &c); !s.ok()) return s;
  return WaitFor(c);
}

void MuxWriter::WriteTerminalAsync(uint64_t stream, Packet packet, const absl::Status& dropped) {
  QueueTerminal(stream, packet, dropped, nullptr).IgnoreError();
}

absl::Status MuxWriter::WriteUnregistered(std::string frame) {
  // Back-pressure: these frames are caused by the peer (refused Invokes), so a peer that causes
  // them without reading makes their writer — the connection's reader — wait, which stops
  // reading its frames; it is never disconnected for it.
  while (!stopped_ && !control_.empty() &&
         (control_.size() >= tunables::kControlQueueMaxCount ||
          control_bytes_ + frame.size() > tunables::kControlQueueMaxBytes)) {
    env_->chaos().Reach(situations::kMuxReaderWaitedForTheControlQueue);
    control_space_.Wait("mux writer: control queue full (the peer is not reading)");
  }
  if (stopped_) return error_;
  control_bytes_ += frame.size();
  control_.push_back(std::move(frame));
  Wake();
  return absl::OkStatus();
}

void MuxWriter::RequestWindowUpdate(uint64_t stream) {
  if (stopped_) return;
  DRPC_CHECK(take_window_grant_ != nullptr);
  if (window_updates_.insert(stream).second) Wake();
}

void MuxWriter::EmitControl(std::string& batch) {
  DRPC_DCHECK(batch.empty());
  if (!control_.empty()) control_space_.WakeAll();
  while (!control_.empty()) {
    batch += control_.front();
    control_bytes_ -= control_.front().size();
    control_.pop_front();
  }
  // The grant is taken now, as the frame is written: credit the peer cannot know of yet is
  // never counted as granted.
  std::set<uint64_t> updates;
  updates.swap(window_updates_);
  for (uint64_t stream : updates) {
    const uint64_t delta = take_window_grant_(stream);
    if (delta == 0) continue;
    AppendWindowUpdateFrame(batch, stream, delta);
  }
}

void MuxWriter::Stop(const absl::Status& error) {
  if (stopped_) return;
  stopped_ = true;
  error_ = error;
  queues_.EraseIf([this, &error](uint64_t, StreamQueue& q) {
    FailAll(q.packets.TakeAll(), error);
    q.in_ready = false;
    DisarmStallTimer(q);
    return q.removed;
  });
  ready_head_ = ready_tail_ = nullptr;
  control_.clear();
  control_bytes_ = 0;
  window_updates_.clear();
  wake_.WakeAll();
  control_space_.WakeAll();
}

bool MuxWriter::EmitFrame(StreamQueue& q, Batch& batch) {
  Pending& p = q.packets.front();
  const bool in_group = p.in_group;
  const bool last_of_group = p.last_of_group;
  size_t n = 0;
  bool last = false;
  DRPC_CHECK_COLD(NextFrame(q, p, &n, &last), [&](std::ostream& os) {
    os << "stream " << p.id.stream << ": EmitFrame found no frame to send";
  });
  if (p.kind == Kind::kMessage && q.flow_controlled) {
    // The peer's receiver accepts a window plus one message; the sender never goes beyond: only
    // a message's first frame may start (it is within the credit), the rest overdraws.
    DRPC_CHECK(p.offset > 0 || q.credit >= static_cast<int64_t>(n))
        << "stream " << p.id.stream << ": a message started beyond the credit";
    if (p.offset > 0 && q.credit - static_cast<int64_t>(n) < 0) {
      env_->chaos().Reach(situations::kMuxMessageOverdrewTheCredit);
    }
    q.credit -= static_cast<int64_t>(n);
  }
  q.peer_knows = true;
  // A large frame of a sender that waits for this batch is written from where it is
  // (WritePieces).
  batch.AppendFrame(p.id, p.kind, last, p.control, absl::string_view(p.data.data() + p.offset, n),
                    p.completion != nullptr && n >= tunables::kGatherFrameMinBytes);
  p.offset += n;
  if (!last) return in_group;
  if (p.completion != nullptr) in_flight_.push_back({p.id.stream, p.completion});
  Recycle(q.packets.pop_front());
  return in_group && !last_of_group;
}

size_t MuxWriter::spare_bytes() const {
  if (writing_ || batch_capacity_ <= tunables::kWriteBufferDefaultBytes) return 0;
  return batch_capacity_;
}

size_t MuxWriter::ReleaseSpare() {
  const size_t spare = spare_bytes();
  if (spare == 0) return 0;
  release_batch_ = true;
  batch_capacity_ = 0;
  wake_.WakeAll();
  return spare;
}

absl::Status MuxWriter::WritePieces(absl::Span<const absl::string_view> pieces) {
  absl::StatusOr<size_t> taken = transport_->TryWriteV(pieces);
  if (!taken.ok()) return taken.status();
  // The transport would block: the senders may be released (a terminal packet, Stop) while it
  // waits, so what it did not take goes from a copy.
  std::string rest;
  size_t skip = *taken;
  for (absl::string_view piece : pieces) {
    if (skip >= piece.size()) {
      skip -= piece.size();
      continue;
    }
    rest.append(piece.data() + skip, piece.size() - skip);
    skip = 0;
  }
  if (rest.empty()) return absl::OkStatus();
  return transport_->Write(rest);
}

absl::Status MuxWriter::WriteBatch(const Batch& batch) {
  absl::Status s;
  if (batch.size() > 1 && env_->chaos().Buggify("mux_writer.short_write")) {
    // Chaos: the batch in two transport writes, cut anywhere, as a short write would leave it
    // (from one copy: the senders may go while the first one waits).
    pieces_.clear();
    batch.Pieces(pieces_);
    std::string all;
    all.reserve(batch.size());
    for (absl::string_view piece : pieces_) all.append(piece.data(), piece.size());
    const size_t cut = 1 + env_->chaos().ChooseRare("mux_writer.short_write_at", all.size() - 1);
    s = transport_->Write(absl::string_view(all).substr(0, cut));
    if (s.ok()) s = transport_->Write(absl::string_view(all).substr(cut));
  } else if (batch.gathered.empty()) {
    s = transport_->Write(batch.bytes());  // the batch's own bytes only
  } else {
    pieces_.clear();
    batch.Pieces(pieces_);
    s = WritePieces(pieces_);
  }
  pieces_.clear();
  return s;
}

absl::Status MuxWriter::Start(absl::AnyInvocable<absl::Status()> start_fiber) {
  DRPC_CHECK(!fiber_running_ && start_fiber_ == nullptr) << "mux writer started twice";
  start_fiber_ = std::move(start_fiber);
  fiber_running_ = true;
  absl::Status started = start_fiber_();
  if (!started.ok()) fiber_running_ = false;
  return started;
}

void MuxWriter::ExitWhenIdle() {
  if (!fiber_running_) return;
  exit_when_idle_ = true;
  wake_.WakeAll();
}

inline void MuxWriter::Wake() {
  if (fiber_running_ || stopped_ || start_fiber_ == nullptr) {
    wake_.WakeOne();
    return;
  }
  Restart();
}

void MuxWriter::Restart() {
  env_->chaos().Reach(situations::kMuxWriterRestartedAfterIdle);
  fiber_running_ = true;
  const absl::Status started = start_fiber_();
  if (started.ok()) return;
  fiber_running_ = false;
  const absl::Status error = absl::ResourceExhaustedError(
      absl::StrCat("no fiber for the connection's writer: ", started.message()));
  Stop(error);
  on_write_error_(error);
}

void MuxWriter::Run() {
  Batch batch;
  for (;;) {
    while (!stopped_ && control_.empty() && window_updates_.empty() && ready_head_ == nullptr) {
      if (release_batch_) batch.Release();
      release_batch_ = false;
      if (exit_when_idle_) {
        exit_when_idle_ = false;
        fiber_running_ = false;
        return;
      }
      wake_.Wait("mux writer: idle");
    }
    if (stopped_) {
      fiber_running_ = false;
      return;
    }
    writing_ = true;
    batch.clear();
    DRPC_DCHECK(in_flight_.empty());
    if (HasControl()) batch.AppendWith([this](std::string& bytes) { EmitControl(bytes); });
    // Chaos: end batches early, so batch boundaries fall everywhere in simulation.
    const bool short_batch = env_->chaos().Buggify("mux_writer.short_batch");
    while (ready_head_ != nullptr && batch.size() < options_.batch_max_bytes) {
      StreamQueue& q = *ready_head_;
      ready_head_ = q.next_ready;
      if (ready_head_ == nullptr) ready_tail_ = nullptr;
      const uint64_t id = q.id;
      q.in_ready = false;
      // One frame per turn, except that a group (metadata + Invoke) goes out whole. A stream
      // alone in the turn order takes its next turns at once (the same frames as popping it again).
      for (;;) {
        while (Sendable(q) && EmitFrame(q, batch)) {
        }
        if (short_batch || ready_head_ != nullptr || batch.size() >= options_.batch_max_bytes ||
            !Sendable(q)) {
          break;
        }
        UpdateStallTimer(id, q);
      }
      if (Sendable(q)) {
        q.in_ready = true;
        PushReady(q);
      } else if (q.removed && q.packets.empty()) {
        Erase(id, q);
        if (short_batch) break;
        continue;
      } else if (WaitsForCredit(q)) {
        credit_waiters_.insert(id);
      }
      UpdateStallTimer(id, q);
      if (short_batch) break;
    }
    if (batch.size() == 0) {
      writing_ = false;
      continue;
    }
    if (env_->chaos().Buggify("mux_writer.yield_before_write")) {
      // Other fibers run meanwhile: a terminal packet may release a sender whose bytes the batch
      // would write from where they are.
      batch.Detach();
      env_->scheduler().Yield();
    }
    const absl::Status s = WriteBatch(batch);
    batch.gathered.clear();
    batch.gathered_bytes = 0;
    if (batch.capacity() > tunables::kWriteBatchKeepMaxBytes) batch.Release();
    batch_capacity_ = batch.capacity();
    writing_ = false;
    if (!s.ok()) {
      CompleteInFlight(s);
      Stop(s);
      fiber_running_ = false;
      on_write_error_(s);
      return;
    }
    CompleteInFlight(absl::OkStatus());
  }
}

}  // namespace drpc
