#include "impl/mux_writer.h"

#include <algorithm>
#include <utility>

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

MuxWriter::MuxWriter(Env& env, Transport& transport, Options options,
                     absl::AnyInvocable<void(const absl::Status&)> on_write_error,
                     absl::AnyInvocable<uint64_t(uint64_t)> take_window_grant)
    : env_(&env),
      transport_(&transport),
      options_(options),
      on_write_error_(std::move(on_write_error)),
      take_window_grant_(std::move(take_window_grant)),
      wake_(env) {
  DRPC_CHECK_GE(options_.split_bytes, limits::kSplitMinBytes);
  DRPC_CHECK_GE(options_.batch_max_bytes, 1u);
}

MuxWriter::~MuxWriter() {
  for (const auto& [id, q] : queues_) {
    DRPC_CHECK(q.packets.empty()) << "mux writer destroyed with packets queued for stream " << id;
  }
}

void MuxWriter::AddStream(uint64_t stream, bool flow_controlled, uint64_t send_credit,
                          bool local_invoke) {
  StreamQueue& q = queues_[stream];
  DRPC_CHECK(q.packets.empty() && !q.removed) << "stream " << stream << " added twice";
  q.flow_controlled = flow_controlled;
  q.credit = send_credit;
  q.peer_knows = !local_invoke;
  if (local_invoke && AnyStreamWaitsForCredit()) {
    env_->chaos().Reach(situations::kMuxInvokeWhileAnotherWindowIsExhausted);
  }
}

bool MuxWriter::AnyStreamWaitsForCredit() {
  // Entries are noted when a stream is found waiting and checked (and dropped if stale) here.
  for (auto it = credit_waiters_.begin(); it != credit_waiters_.end();) {
    auto q = queues_.find(*it);
    if (q != queues_.end() && WaitsForCredit(q->second)) return true;
    it = credit_waiters_.erase(it);
  }
  return false;
}

bool MuxWriter::WaitsForCredit(const StreamQueue& q) const {
  return q.flow_controlled && !q.packets.empty() && !Sendable(q);
}

void MuxWriter::RemoveStream(uint64_t stream) {
  auto it = queues_.find(stream);
  if (it == queues_.end()) return;
  it->second.removed = true;
  if (it->second.packets.empty() && !it->second.in_ready) queues_.erase(it);
}

void MuxWriter::AddCredit(uint64_t stream, uint64_t delta) {
  auto it = queues_.find(stream);
  if (it == queues_.end() || !it->second.flow_controlled) return;
  it->second.credit = std::min(tunables::kSendCreditMaxBytes, it->second.credit + delta);
  MarkReady(stream, it->second);
}

uint64_t MuxWriter::send_credit(uint64_t stream) const {
  auto it = queues_.find(stream);
  return it == queues_.end() ? 0 : it->second.credit;
}

bool MuxWriter::NextFrame(const StreamQueue& q, const Pending& p, size_t* bytes,
                          bool* last) const {
  const size_t remaining = p.data.size() - p.offset;
  if (!IsSplittableKind(p.kind)) {
    *bytes = remaining;
    *last = true;
    return true;
  }
  size_t n = std::min(options_.split_bytes, remaining);
  if (p.kind == Kind::kMessage && q.flow_controlled) {
    // Charge: the data, plus one for the frame that completes the message.
    if (q.credit == 0) return false;  // even an empty completing frame costs one byte
    n = static_cast<size_t>(std::min<uint64_t>(n, q.credit));
    if (n == remaining && q.credit < n + 1) {
      env_->chaos().Reach(situations::kMuxMessageCompletionWaitsForCredit);
      // The data fits but the completion does not: send the data now and complete the message
      // with an empty frame once more credit arrives (a window of one byte still makes progress).
      *bytes = n;
      *last = false;
      return true;
    }
  }
  *bytes = n;
  *last = n == remaining;
  return true;
}

bool MuxWriter::Sendable(const StreamQueue& q) const {
  if (q.packets.empty()) return false;
  size_t bytes;
  bool last;
  return NextFrame(q, q.packets.front(), &bytes, &last);
}

void MuxWriter::MarkReady(uint64_t stream, StreamQueue& q) {
  if (q.in_ready) return;
  if (!Sendable(q)) {
    if (WaitsForCredit(q)) credit_waiters_.insert(stream);
    return;
  }
  q.in_ready = true;
  ready_.push_back(stream);
  wake_.WakeOne();
}

void MuxWriter::Enqueue(StreamQueue& q, Packet packet, Completion* completion, bool owned,
                        size_t index_in_group, size_t group_size) {
  // Queued in the order the stream numbered them, so frames leave with rising message IDs (the
  // peer's assembler rejects anything else as a protocol error).
  DRPC_CHECK_GT(packet.id.message, q.last_message)
      << "stream " << packet.id.stream << ": " << KindName(packet.kind) << " queued out of order";
  q.last_message = packet.id.message;
  Pending p{packet.id, packet.kind, packet.data, std::string(), packet.control, 0, completion,
            group_size > 1, index_in_group + 1 == group_size};
  if (owned) {
    p.owned.assign(packet.data.data(), packet.data.size());
    p.data = p.owned;
    p.charge = BufferCharge(options_.buffers, ConnectionBuffers::Kind::kWriting, p.owned.size());
  }
  q.packets.push_back(std::move(p));
  if (owned) q.packets.back().data = q.packets.back().owned;  // re-point after the move
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
  auto it = queues_.find(stream);
  if (it == queues_.end() || it->second.removed) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " is not writable"));
  }
  Completion c;
  c.remaining = static_cast<int>(packets.size());
  size_t i = 0;
  for (const Packet& p : packets) Enqueue(it->second, p, &c, /*owned=*/false, i++, packets.size());
  MarkReady(stream, it->second);
  return WaitFor(c);
}

absl::Status MuxWriter::WriteQueued(uint64_t stream, Packet packet) {
  if (stopped_) return error_;
  auto it = queues_.find(stream);
  if (it == queues_.end() || it->second.removed) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " is not writable"));
  }
  StreamQueue& q = it->second;
  // Only a packet that can leave without more credit from the peer is queued: the caller may end
  // the stream right after (SendLast's CloseSend), and a peer that then cancels grants nothing
  // more, so a queued packet waiting for credit would never leave. Such a packet waits instead.
  if (packet.kind == Kind::kMessage && q.flow_controlled) {
    // Charge of the Messages queued ahead (data left, plus one for the completing frame), then ours.
    uint64_t charge = packet.data.size() + 1;
    for (const Pending& p : q.packets) {
      if (p.kind == Kind::kMessage) charge += p.data.size() - p.offset + 1;
    }
    if (q.credit < charge) return Write(stream, {packet});
  }
  Enqueue(q, packet, nullptr, /*owned=*/true);
  MarkReady(stream, q);
  return absl::OkStatus();
}

void MuxWriter::WriteAsync(uint64_t stream, std::initializer_list<Packet> packets) {
  if (stopped_) return;
  auto it = queues_.find(stream);
  if (it == queues_.end()) return;
  size_t i = 0;
  for (const Packet& p : packets) Enqueue(it->second, p, nullptr, /*owned=*/true, i++, packets.size());
  MarkReady(stream, it->second);
}

absl::Status MuxWriter::QueueTerminal(uint64_t stream, Packet packet, const absl::Status& dropped,
                                      Completion* completion) {
  DRPC_CHECK(IsTerminal(packet.kind)) << KindName(packet.kind);
  if (stopped_) return error_;
  auto it = queues_.find(stream);
  if (it == queues_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " is not writable"));
  }
  StreamQueue& q = it->second;
  if (!q.peer_knows) {
    env_->chaos().Reach(situations::kMuxStreamEndedBeforeItsInvokeWasWritten);
    // Nothing of the stream has been written (its Invoke is still queued): the peer never hears
    // of it, so nothing is sent at all — neither its queued packets nor this terminal one.
    for (Pending& p : q.packets) Fail(p, dropped);
    q.packets.clear();
    Complete(completion, absl::OkStatus());
    return absl::OkStatus();
  }
  DropNonTerminal(q, dropped);
  Enqueue(q, packet, completion, /*owned=*/completion == nullptr);
  MarkReady(stream, q);
  return absl::OkStatus();
}

void MuxWriter::DropNonTerminal(StreamQueue& q, const absl::Status& dropped) {
  // Earlier terminal packets stay, in order; moved packets that own their bytes re-point at them.
  std::deque<Pending> kept;
  for (Pending& p : q.packets) {
    if (IsTerminal(p.kind)) {
      kept.push_back(std::move(p));
      if (!kept.back().owned.empty()) kept.back().data = kept.back().owned;
    } else {
      Fail(p, dropped);
    }
  }
  q.packets = std::move(kept);
}

void MuxWriter::DiscardQueued(uint64_t stream, const absl::Status& dropped) {
  auto it = queues_.find(stream);
  if (it == queues_.end()) return;
  if (!it->second.packets.empty()) {
    env_->chaos().Reach(situations::kMuxPeerEndedAStreamWithWritesQueued);
  }
  DropNonTerminal(it->second, dropped);
  if (it->second.removed && it->second.packets.empty() && !it->second.in_ready) queues_.erase(it);
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

absl::Status MuxWriter::WriteControl(std::string frame) {
  if (stopped_) return absl::OkStatus();
  if (control_.size() >= tunables::kControlQueueMaxCount ||
      control_bytes_ + frame.size() > tunables::kControlQueueMaxBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "control queue full: ", control_.size(), " frames (", control_bytes_,
        " bytes) wait to be written, at most ", tunables::kControlQueueMaxCount, " frames or ",
        tunables::kControlQueueMaxBytes, " bytes"));
  }
  control_bytes_ += frame.size();
  control_.push_back(std::move(frame));
  wake_.WakeOne();
  return absl::OkStatus();
}

void MuxWriter::RequestWindowUpdate(uint64_t stream) {
  if (stopped_) return;
  DRPC_CHECK(take_window_grant_ != nullptr);
  if (window_updates_.insert(stream).second) wake_.WakeOne();
}

void MuxWriter::EmitControl(std::string& batch) {
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
    AppendFrame(batch, Frame{.id = PacketId{stream, 0},
                             .kind = Kind::kWindowUpdate,
                             .done = true,
                             .control = true,
                             .data = EncodeWindowUpdate(delta)});
  }
}

void MuxWriter::Stop(const absl::Status& error) {
  if (stopped_) return;
  stopped_ = true;
  error_ = error;
  for (auto it = queues_.begin(); it != queues_.end();) {
    StreamQueue& q = it->second;
    for (Pending& p : q.packets) Fail(p, error);
    q.packets.clear();
    q.in_ready = false;
    it = q.removed ? queues_.erase(it) : std::next(it);
  }
  ready_.clear();
  control_.clear();
  control_bytes_ = 0;
  window_updates_.clear();
  wake_.WakeAll();
}

bool MuxWriter::EmitFrame(StreamQueue& q, std::string& batch, std::vector<Completion*>& done) {
  Pending& p = q.packets.front();
  const bool in_group = p.in_group;
  const bool last_of_group = p.last_of_group;
  size_t n = 0;
  bool last = false;
  DRPC_CHECK(NextFrame(q, p, &n, &last));
  if (p.kind == Kind::kMessage && q.flow_controlled) {
    // The peer's receiver fails the stream for data beyond the window it granted; the sender never
    // goes there: credit never goes negative (NextFrame sized the frame to it).
    const uint64_t charge = n + (last ? 1 : 0);
    DRPC_CHECK_LE(charge, q.credit) << "stream " << p.id.stream << ": frame beyond the credit";
    q.credit -= charge;
  }
  q.peer_knows = true;
  AppendFrame(batch, Frame{.id = p.id,
                           .kind = p.kind,
                           .done = last,
                           .control = p.control,
                           .data = p.data.substr(p.offset, n)});
  p.offset += n;
  if (!last) return in_group;
  if (p.completion != nullptr) done.push_back(p.completion);
  q.packets.pop_front();
  return in_group && !last_of_group;
}

void MuxWriter::Run() {
  std::string batch;
  std::vector<Completion*> done;
  for (;;) {
    while (!stopped_ && control_.empty() && window_updates_.empty() && ready_.empty()) {
      wake_.Wait("mux writer: idle");
    }
    if (stopped_) return;
    batch.clear();
    done.clear();
    EmitControl(batch);
    // Chaos: end batches early, so batch boundaries fall everywhere in simulation.
    const bool short_batch = env_->chaos().Buggify("mux_writer.short_batch");
    while (!ready_.empty() && batch.size() < options_.batch_max_bytes) {
      const uint64_t id = ready_.front();
      ready_.pop_front();
      auto it = queues_.find(id);
      StreamQueue& q = it->second;
      q.in_ready = false;
      // One frame per turn, except that a group (metadata + Invoke) goes out whole.
      while (Sendable(q) && EmitFrame(q, batch, done)) {
      }
      if (Sendable(q)) {
        q.in_ready = true;
        ready_.push_back(id);
      } else if (q.removed && q.packets.empty()) {
        queues_.erase(it);
      } else if (WaitsForCredit(q)) {
        credit_waiters_.insert(id);
      }
      if (short_batch) break;
    }
    if (batch.empty()) continue;
    if (env_->chaos().Buggify("mux_writer.yield_before_write")) env_->scheduler().Yield();
    absl::Status s;
    if (batch.size() > 1 && env_->chaos().Buggify("mux_writer.short_write")) {
      // Chaos: the batch in two transport writes, as a short write would leave it.
      const size_t cut = 1 + env_->chaos().ChooseRare("mux_writer.short_write_at", batch.size() - 1);
      s = transport_->Write(absl::string_view(batch).substr(0, cut));
      if (s.ok()) s = transport_->Write(absl::string_view(batch).substr(cut));
    } else {
      s = transport_->Write(batch);
    }
    if (batch.capacity() > tunables::kWriteBatchKeepMaxBytes) std::string().swap(batch);
    if (!s.ok()) {
      for (Completion* c : done) Complete(c, s);
      Stop(s);
      on_write_error_(s);
      return;
    }
    for (Completion* c : done) Complete(c, absl::OkStatus());
  }
}

}  // namespace drpc
