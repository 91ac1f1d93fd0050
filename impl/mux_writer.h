// MuxWriter: the shared writer of a mux connection. Streams queue packets; one writer fiber
// gathers frames of ready streams into batches and writes them to the transport.
//
//   * Fairness: ready streams take turns, one frame (at most split_bytes) per turn, so a large
//     message never blocks other streams (docs/protocol.md §11.5: no head-of-line blocking).
//   * Order: each stream's packets leave in the order they were queued, except terminal packets
//     (Close, Error, Cancel), which drop the stream's queued packets (their senders get the
//     `dropped` error) and go first. A partially written message is simply abandoned: the peer's
//     per-stream assembler discards it when the terminal packet's higher message ID arrives.
//     A terminal packet for a stream of which nothing has reached the wire yet (its metadata and
//     Invoke are still queued) is not sent either: the stream's packets are all dropped and the
//     peer never hears of it — a Cancel alone would name a stream the peer does not know.
//   * Flow control (the fork's line C sender, docs/protocol.md §17.2): a flow-controlled stream
//     has a signed credit, charged the payload bytes of each Message frame. The first frame of a
//     message waits until the credit covers it; the message's later frames are debited without
//     waiting, so a message, once started, goes out whole and the credit may go negative (an
//     overdraft). AddCredit adds the peer's WindowUpdates: a deficit is repaid first and the credit
//     saturates at kSendCreditMaxBytes. Other packets are never gated. A stream that waits for
//     credit for credit_stall_timeout without a grant is reported (on_credit_stall) so the manager
//     can fail it: a sender never waits for ever.
//   * Control frames bypass the stream queues and go out first, so a stream waiting for credit
//     can never hold back the credit its peer is waiting for. WindowUpdates are coalesced: a
//     stream asks for one (RequestWindowUpdate) and the writer asks the manager for the delta
//     when it writes the frame (take_window_grant), so the credit is granted exactly when the
//     peer can learn of it and at most one update per stream is pending. Other control frames
//     (Errors for streams never registered) are queued, bounded by kControlQueueMaxCount/Bytes:
//     a full queue makes their writer (the connection's reader) wait — back-pressure that
//     throttles a peer causing them without reading.
//   * Writes complete (Write returns) only after the batch holding their last frame was written
//     to the transport. Stop() fails everything queued at once and makes later writes fail.
//   * Copies: small frames and the copies of queued packets are copied into the batch buffer; a
//     frame of at least tunables::kGatherFrameMinBytes of a packet whose sender waits (Write) is
//     not: the batch goes out with Transport::TryWriteV, which reads the sender's memory only
//     until the transport would block, and what it did not take is copied into the batch buffer
//     and written from there. So a sender never waits for a blocked write to release it (a
//     terminal packet or Stop() still releases it at once) and a fast peer costs no copy.
//
// The connection's fiber runs Run(); every other method is non-blocking except Write,
// WriteTerminal and WriteUnregistered, which wait. Single-scheduler, like everything in impl/.
#ifndef DRPC_IMPL_MUX_WRITER_H_
#define DRPC_IMPL_MUX_WRITER_H_

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "impl/buffer_budget.h"
#include "impl/env.h"
#include "impl/sync.h"
#include "impl/time.h"
#include "impl/tunables.h"
#include "proto/base/id_map.h"
#include "proto/frame.h"

namespace drpc {

class MuxWriter {
 public:
  struct Options {
    size_t split_bytes;
    size_t batch_max_bytes;
    // Counts the copies of queued asynchronous packets (ConnectionBuffers::Kind::kWriting); may
    // be null. Must outlive the writer.
    ConnectionBuffers* buffers = nullptr;
    // How long a flow-controlled stream may wait for credit before on_credit_stall reports it.
    Duration credit_stall_timeout = tunables::kCreditStallTimeoutDefault;
  };
  // One packet to queue. `data` is borrowed for blocking writes (the caller waits) and copied for
  // asynchronous ones.
  struct Packet {
    PacketId id;
    Kind kind;
    absl::string_view data;
    bool control = false;
    // WriteAsync only: the string `data` views (all of it), which the writer takes instead of
    // copying it. The donor is left holding an empty string (a recycled copy buffer's capacity
    // possibly) that the caller may reuse or drop.
    std::string* donor = nullptr;
  };

  // `take_window_grant(stream)` is called when a requested WindowUpdate is written and returns
  // its delta (>= 1), or 0 to write none (may be null if no stream requests any).
  // `on_credit_stall(stream)` is called from a timer (it must not block) when a flow-controlled
  // stream has waited credit_stall_timeout for credit; the stream still waits (may be null).
  MuxWriter(Env& env, Transport& transport, Options options,
            absl::AnyInvocable<void(const absl::Status&)> on_write_error,
            absl::AnyInvocable<uint64_t(uint64_t)> take_window_grant = nullptr,
            absl::AnyInvocable<void(uint64_t)> on_credit_stall = nullptr);
  ~MuxWriter();

  // Starts the writer fiber with `start_fiber`, which spawns a fiber running Run(). The fiber
  // ends when it finds nothing to write after ExitWhenIdle, and the next packet queued starts
  // one again with `start_fiber`, so an idle connection keeps no writer stack. A later start
  // that fails (no fiber stack) stops the writer and reports kResourceExhausted through
  // on_write_error.
  absl::Status Start(absl::AnyInvocable<absl::Status()> start_fiber);

  // The writer fiber's body: returns after Stop(), a transport write error (which it reports
  // through on_write_error before returning), or when idle after ExitWhenIdle.
  void Run();
  // The connection is idle: the writer fiber ends the next time it has nothing to write.
  void ExitWhenIdle();
  bool fiber_running() const { return fiber_running_; }

  // The batch buffer's capacity beyond tunables::kWriteBufferDefaultBytes while the writer has
  // nothing to write (0 otherwise), and its release (the connection is idle): the writer frees the
  // buffer when it next looks for work, which ReleaseSpare makes it do now. Returns the bytes
  // that will be released.
  size_t spare_bytes() const;
  size_t ReleaseSpare();

  // Registers a stream. `send_credit` (the peer's window) is ignored unless `flow_controlled`.
  // `local_invoke`: we invoked it (a client stream), so the peer does not know it until its first
  // frame is written. The ID may be one of a removed stream whose frames are all written (a peer
  // may reuse IDs); one with frames still to write is a caller bug (see HasFramesToWrite).
  void AddStream(uint64_t stream, bool flow_controlled, uint64_t send_credit,
                 bool local_invoke = false);
  // The stream is finished: its state goes once its queue has drained.
  void RemoveStream(uint64_t stream);
  // Frames of `stream` (live or removed) are still queued: its ID is not free for a new stream.
  bool HasFramesToWrite(uint64_t stream) const;
  // A WindowUpdate arrived: `delta` (>= 1) more bytes may be sent, a deficit repaid first, the
  // credit saturating at kSendCreditMaxBytes. Unknown or not flow-controlled streams: ignored.
  void AddCredit(uint64_t stream, uint64_t delta);

  // Queues `packets` for `stream` back to back (no other packet of the stream in between) and
  // waits until all are written. Fails with the writer's error after Stop(), or with the
  // terminal packet's `dropped` error if one dropped them first.
  absl::Status Write(uint64_t stream, std::initializer_list<Packet> packets);
  // Queues one packet (data copied) without waiting, with Write's errors: for a small packet that
  // the caller's next Write on the same stream follows at once (SendLast's message before its
  // CloseSend), so both leave in one batch and the caller waits once, or a small Message of a
  // burst (Stream::Send), which then leaves with the others. If a terminal packet drops it, the
  // stream's later Write fails with the `dropped` error. A Message that would have to wait for
  // credit (flow control) is not queued: then this waits like Write, so nothing queued without
  // a waiter ever depends on the peer. Nor is a packet for a stream with
  // tunables::kWriteQueuedMaxCount packets queued: copies stay bounded.
  absl::Status WriteQueued(uint64_t stream, Packet packet);
  // Queues without waiting (data copied): used where the caller must not block.
  void WriteAsync(uint64_t stream, std::initializer_list<Packet> packets);
  // A terminal packet: drops the stream's queued packets (their senders get `dropped`), then goes
  // first; waits until written.
  absl::Status WriteTerminal(uint64_t stream, Packet packet, const absl::Status& dropped);
  // The same without waiting (data copied), for callers that must not block.
  void WriteTerminalAsync(uint64_t stream, Packet packet, const absl::Status& dropped);
  // The peer ended the stream (Error, Cancel or Close): its queued non-terminal packets are
  // dropped (their senders get `dropped`) and a partly written one is abandoned, since the peer
  // discards them anyway. Queued terminal packets still go out. Unknown streams are ignored.
  void DiscardQueued(uint64_t stream, const absl::Status& dropped);
  // A frame outside any stream queue (an Error for a stream that was never registered), written
  // before the next stream frames. While the control queue is at its bound (kControlQueueMaxCount
  // frames or kControlQueueMaxBytes: the peer is not reading) the caller waits for the writer
  // (from a fiber). The writer's error after Stop(), also for a caller that was waiting.
  absl::Status WriteUnregistered(std::string frame);
  // A WindowUpdate for `stream` is wanted; see take_window_grant. Coalesces with a pending one.
  void RequestWindowUpdate(uint64_t stream);

  // Non-blocking; the first error wins. Everything queued fails with `error`.
  void Stop(const absl::Status& error);
  bool stopped() const { return stopped_; }

  // Observability for tests and the connection's leak checks (Manager::Usage).
  size_t streams() const { return queues_.size(); }
  int64_t send_credit(uint64_t stream) const;
  size_t control_queued() const { return control_.size(); }

 private:
  struct Completion;
  // The batch being built: frame bytes copied into bytes(), and the data of large frames whose
  // sender waits referenced in place, each after the first `bytes_end` bytes of bytes().
  class Batch {
   public:
    struct Slice {
      size_t bytes_end;
      absl::string_view data;
    };
    std::vector<Slice> gathered;
    size_t gathered_bytes = 0;

    absl::string_view bytes() const { return absl::string_view(buffer_.data(), used_); }
    size_t size() const { return used_ + gathered_bytes; }
    // The buffer's capacity: it grows as appending each header and each copied body to a
    // libstdc++ std::string would (spare_bytes() reports it, and the connection's idle work depends on it).
    size_t capacity() const { return buffer_.capacity(); }
    void clear();
    // Frees the buffer (the batch must be empty of senders' references).
    void Release();
    // Appends a frame: its header, then `data` copied, or referenced in place if `gather`.
    void AppendFrame(PacketId id, Kind kind, bool done, bool control, absl::string_view data,
                     bool gather);
    // Appends frames built elsewhere (control frames) with std::string's own growth.
    template <typename Build>
    void AppendWith(Build build) {
      buffer_.resize(used_);
      build(buffer_);
      used_ = buffer_.size();
    }
    // The batch in wire order, for Transport::WriteV (empty pieces left out).
    void Pieces(std::vector<absl::string_view>& out) const;
    // Copies the gathered senders' bytes into bytes(), in wire order, so the batch no longer
    // reads memory its senders own (before anything that lets a sender be released).
    void Detach();

   private:
    // Room for `header_bytes` then `data_bytes` after bytes(), grown as two appends would grow
    // a std::string.
    void Grow(size_t header_bytes, size_t data_bytes);

    // Makes the buffer's size at least `end` (at most its capacity), so frames are written in
    // place without a std::string append per header and body. Only bytes about to be written are
    // zero-filled: the size is the high-water mark of what was written, never the whole capacity,
    // so the pages of a large, mostly unused capacity are never touched.
    void Expose(size_t end) {
      if (end > buffer_.size()) buffer_.resize(end);
    }

    // bytes() is its first used_ bytes; the bytes after them, up to its size, are scratch.
    std::string buffer_;
    size_t used_ = 0;
  };
  // A queued packet. It never moves once queued (its `data` may view its own `owned`): a stream
  // links its packets through `next`, and a written or dropped one goes back to the writer's
  // spares (see Recycle), so a connection running one call after another allocates none.
  struct Pending {
    PacketId id;
    absl::string_view data;            // the caller's buffer (it waits), or `owned`
    size_t offset = 0;                 // data bytes already emitted
    Completion* completion = nullptr;  // nullptr for async packets
    Pending* next = nullptr;           // the stream's next packet (or the next spare)
    size_t charged_bytes = 0;          // `owned`, counted in the connection's buffers
    std::string owned;                 // the copy of an asynchronous packet
    Kind kind = Kind::kMessage;
    bool splittable = false;  // IsSplittableKind(kind), asked once
    bool control = false;
    // A packet of a group (metadata + Invoke): the group goes out in one turn, so no other
    // stream's frame comes between its packets on the wire.
    bool in_group = false;
    bool last_of_group = false;
  };
  // A stream's packets in queue order.
  class PacketList {
   public:
    bool empty() const { return head_ == nullptr; }
    size_t size() const { return count_; }
    Pending& front() const { return *head_; }
    Pending* head() const { return head_; }
    void push_back(Pending* p) {
      p->next = nullptr;
      (head_ == nullptr ? head_ : tail_->next) = p;
      tail_ = p;
      ++count_;
    }
    Pending* pop_front() {
      Pending* p = head_;
      head_ = p->next;
      if (head_ == nullptr) tail_ = nullptr;
      --count_;
      return p;
    }
    // Takes the whole list, leaving this one empty; returns its first packet.
    Pending* TakeAll() {
      Pending* p = head_;
      head_ = tail_ = nullptr;
      count_ = 0;
      return p;
    }

   private:
    Pending* head_ = nullptr;
    Pending* tail_ = nullptr;
    size_t count_ = 0;
  };
  struct StreamQueue {
    uint64_t id = 0;
    PacketList packets;
    bool flow_controlled = false;
    int64_t credit = 0;           // may be negative after a message overdrew it
    TimerId stall_timer = 0;      // armed while the stream waits for credit (0: none)
    bool in_ready = false;
    bool removed = false;
    bool peer_knows = true;  // false for a local invoke until its first frame is written
    uint64_t last_message = 0;  // the highest message ID queued: IDs only rise per stream
    StreamQueue* next_ready = nullptr;  // the next in the ready list, while in_ready
  };

  void Enqueue(StreamQueue& q, const Packet& packet, Completion* completion, bool owned,
               size_t index_in_group = 0, size_t group_size = 1);
  // Fails and drops the stream's non-terminal packets (also those in the batch being written);
  // terminal ones stay, in order.
  void DropNonTerminal(uint64_t stream, StreamQueue& q, const absl::Status& dropped);
  // The batch was written (or failed): its packets' senders are told.
  void CompleteInFlight(const absl::Status& status);
  // Drops the stream's non-terminal packets and queues `packet` behind its terminal ones.
  absl::Status QueueTerminal(uint64_t stream, Packet packet, const absl::Status& dropped,
                             Completion* completion);
  // Data bytes the next frame of `p` may carry under the stream's credit; *last if it completes
  // the packet. Returns false if no frame can be sent now.
  bool NextFrame(const StreamQueue& q, const Pending& p, size_t* bytes, bool* last) const;
  bool Sendable(const StreamQueue& q) const;
  // A flow-controlled stream with packets it cannot send for lack of credit.
  bool WaitsForCredit(const StreamQueue& q) const;
  bool AnyStreamWaitsForCredit();
  void MarkReady(uint64_t stream, StreamQueue& q);
  // MarkReady found the stream unable to send: noted if it waits for credit.
  void NoteWaitingForCredit(uint64_t stream, const StreamQueue& q);
  // Appends `q` (in_ready just set) to the ready list.
  void PushReady(StreamQueue& q);
  // Work was queued: wakes the writer fiber, or starts one if it ended while idle.
  void Wake();
  void Restart();  // Wake's start of a new writer fiber
  // Arms the stream's credit-stall timer while it waits for credit, disarms it otherwise.
  void UpdateStallTimer(uint64_t stream, StreamQueue& q);
  void UpdateFlowStallTimer(uint64_t stream, StreamQueue& q);  // UpdateStallTimer's work
  void DisarmStallTimer(StreamQueue& q);
  // Forgets a stream whose queue is empty (its timer disarmed).
  void Erase(uint64_t stream, StreamQueue& q);
  // Appends one frame of the stream's first packet to the batch. Returns true if the stream's
  // turn continues (the frame belongs to a group that is not finished).
  bool EmitFrame(StreamQueue& q, Batch& batch);
  // Writes the batch (chaos: in two writes cut anywhere).
  absl::Status WriteBatch(const Batch& batch);
  // Writes `pieces`: what TryWriteV does not take at once is copied and written from the copy,
  // so the pieces are not read once this fiber waits.
  absl::Status WritePieces(absl::Span<const absl::string_view> pieces);
  void Fail(Pending& p, const absl::Status& error);
  // A packet left its queue (written or dropped): its copy is uncounted and the node kept for the
  // next packet (up to tunables::kMuxPacketSpareMaxCount, with at most
  // kMuxPacketSpareKeepMaxBytes of copy buffer each) or freed.
  void Recycle(Pending* p);
  // Fails (with `error`) and recycles every packet of the list starting at `p`.
  void FailAll(Pending* p, const absl::Status& error);
  // Appends the queued control frames and requested WindowUpdates to the batch.
  void EmitControl(std::string& batch);
  bool HasControl() const { return !control_.empty() || !window_updates_.empty(); }
  absl::Status WaitFor(Completion& c);
  void Complete(Completion* c, const absl::Status& status);

  Env* env_;
  Transport* transport_;
  Options options_;
  absl::AnyInvocable<void(const absl::Status&)> on_write_error_;
  absl::AnyInvocable<uint64_t(uint64_t)> take_window_grant_;
  absl::AnyInvocable<void(uint64_t)> on_credit_stall_;
  absl::AnyInvocable<absl::Status()> start_fiber_;
  // By stream ID (a queue never moves while it exists: the ready list links them).
  IdMap<StreamQueue> queues_{tunables::kStreamNodeSpareMaxCount};
  // The turn order: the queues with in_ready set, linked through next_ready. A queue in it is
  // never erased.
  StreamQueue* ready_head_ = nullptr;
  StreamQueue* ready_tail_ = nullptr;
  Pending* spare_packets_ = nullptr;  // linked through `next`
  size_t spare_packet_count_ = 0;
  // Senders waiting for the batch being written (null once a terminal packet released one).
  struct InFlight {
    uint64_t stream;
    Completion* completion;
  };
  std::vector<InFlight> in_flight_;
  std::vector<absl::string_view> pieces_;  // reused by WriteBatch
  // Streams last seen waiting for credit (race-coverage probe; stale entries dropped on use).
  std::set<uint64_t> credit_waiters_;
  std::deque<std::string> control_;
  size_t control_bytes_ = 0;
  WaitList control_space_;  // WriteUnregistered callers waiting for room in control_
  std::set<uint64_t> window_updates_;  // streams with a requested WindowUpdate, by ID
  WaitList wake_;
  // The batch buffer's capacity after the last write, and whether the idle writer must free it.
  size_t batch_capacity_ = 0;
  bool release_batch_ = false;
  bool writing_ = false;
  bool fiber_running_ = false;  // a fiber runs Run() (or is about to)
  bool exit_when_idle_ = false;
  bool stopped_ = false;
  absl::Status error_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_MUX_WRITER_H_
