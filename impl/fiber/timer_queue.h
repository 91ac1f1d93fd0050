// The timer queue both runtimes run: the simulator's virtual clock (sim/scheduler.h) and each
// production reactor (impl/runtime/reactor.h) keep their timers in one of these, so the timer
// semantics the simulator explores are the ones production executes. The owner decides *when* to
// fire (the simulator advances virtual time when no fiber is runnable; a reactor fires what is due
// after each batch of fibers); this class decides *what* fires and in which order.
//
//   TimerQueue timers;
//   TimerId id = timers.Add(now + Duration::Millis(5), [] { ... });
//   timers.Cancel(id);                        // after this, the callback never runs
//   while (!timers.empty() && timers.next_deadline() <= now) timers.PopNext().callback();
//
// Contract (Clock in impl/env.h):
//   * order: (deadline, id); ids rise from 1 in scheduling order, so timers due at the same
//     instant fire in the order they were scheduled;
//   * Cancel: once it returns the callback never runs; true only if the timer was still queued;
//   * a timer is taken out of the queue *before* its callback runs (PopNext, RunDue), so the
//     callback may Cancel itself (false: it is already running) or any other timer, and may Add
//     new ones.
// Cost: Add, PopNext and Cancel are O(log n) on flat vectors (a binary min-heap, a slot table and
// an index of ids sorted by id), with no allocation per timer once the vectors have grown, beyond
// what the callback itself needs. Each slot knows where its timer's entry sits in the heap, so
// Cancel takes the entry out at once and the heap holds exactly the queued timers: Add and
// PopNext never sift through cancelled entries, though most timers (deadlines) are cancelled.
// The id index keeps fired and cancelled ids until they outnumber the queued timers by 64, so
// memory stays within about twice the timers queued.
// Not thread-safe: one owner, one thread. Deterministic: the order is a total order on unique keys.
#ifndef DRPC_IMPL_FIBER_TIMER_QUEUE_H_
#define DRPC_IMPL_FIBER_TIMER_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/functional/any_invocable.h"
#include "impl/env.h"
#include "impl/time.h"
#include "proto/base/check.h"

namespace drpc {

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Queues `callback` for `deadline` and returns its id (nonzero, one more than the previous).
  // Takes the callback by reference: it is moved once, into its slot (every move of an
  // AnyInvocable is an indirect call, and one timer per simulated network segment is added).
  TimerId Add(Instant deadline, absl::AnyInvocable<void()>&& callback);

  // A timer whose callback is a plain function of a context pointer: `fn(context)`. Same ids,
  // order and Cancel as Add; it costs no AnyInvocable to store, move, run or destroy (each of
  // those is an indirect call), for an owner that sets one timer per event (the simulator's
  // network: one per delivered segment). `context` must outlive the timer.
  using PlainCallback = Clock::PlainTimerCallback;
  TimerId AddPlain(Instant deadline, PlainCallback fn, void* context);

  // Removes a queued timer. True if it was queued; false if it already fired (or is firing),
  // was cancelled before, or `id` was never issued.
  bool Cancel(TimerId id);

  bool empty() const { return live_ == 0; }
  size_t size() const { return live_; }

  // The earliest queued deadline. Requires !empty(). Inline: the simulator asks it at every
  // scheduling point.
  Instant next_deadline() const {
    DRPC_CHECK(live_ > 0) << "next_deadline of an empty timer queue";
    return heap_.front().deadline;
  }

  struct Expired {
    Instant deadline;
    TimerId id = 0;
    absl::AnyInvocable<void()> callback;
  };
  // Takes the earliest timer out of the queue and hands it to the caller, who runs its callback
  // (a timer of AddPlain's comes wrapped in one). Requires !empty().
  Expired PopNext();

  // If the earliest timer is one of AddPlain's, takes it out and returns its function and
  // context, for the caller to run; otherwise leaves the queue as it is and returns fn == null
  // (then PopNext). Requires !empty().
  struct PlainExpired {
    Instant deadline;
    TimerId id = 0;
    PlainCallback fn = nullptr;
    void* context = nullptr;
  };
  PlainExpired PopNextIfPlain();

  // Runs, in order, every timer whose deadline is at or before `now`, each taken out before it
  // runs (so one cancelled by an earlier callback never runs; one added by a callback with a
  // deadline at or before `now` runs in this call). Returns how many ran.
  size_t RunDue(Instant now);

  // Drops every queued timer without running it (teardown).
  void Clear();

 private:
  // A queued timer's heap entry.
  struct Entry {
    Instant deadline;
    TimerId id = 0;
    uint32_t slot = 0;
  };
  struct Slot {
    TimerId id = 0;         // 0: free
    uint32_t heap_pos = 0;  // where its entry is in heap_ (while queued)
    PlainCallback fn = nullptr;  // set: an AddPlain timer, `callback` is empty
    void* context = nullptr;
    absl::AnyInvocable<void()> callback;
  };
  struct IndexEntry {
    TimerId id = 0;
    uint32_t slot = 0;
  };
  // The heap order: "later" is "less" (std's max-heap convention), so the earliest (deadline, id)
  // is on top.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
    }
  };
  // heap_ holds one more entry (its first live_ are the heap; it never shrinks).
  ABSL_ATTRIBUTE_NOINLINE void GrowHeap();
  // A new slot at the end of slots_; returns its index.
  ABSL_ATTRIBUTE_NOINLINE uint32_t NewSlot();
  // The heap's own sifts (not std::push_heap/pop_heap): they keep the moving entry in registers.
  // std's copy it through memory in pieces and read it back whole, a store-forwarding stall that
  // was most of Add's time in the simulator (one timer per simulated network segment). Every
  // entry put at a position has its slot's heap_pos updated.
  void HeapPush(Instant deadline, TimerId id, uint32_t slot);
  // Takes the entry at `pos` out of the heap.
  void HeapRemove(size_t pos);
  void HeapPlace(size_t pos, const Entry& e) {
    heap_[pos] = e;
    slots_[e.slot].heap_pos = static_cast<uint32_t>(pos);
  }
  // The slot of queued timer `id`, or nullptr.
  Slot* Find(TimerId id);
  // Takes a free slot for a new timer `id` due at `deadline` and queues it; the caller fills in
  // the callback.
  Slot& Queue(Instant deadline, TimerId id);
  // Frees `slot`, whose entry is out of the heap and whose callback is empty (an AddPlain
  // timer's, or moved out by Release).
  void FreeSlot(uint32_t slot);
  // Frees `slot` (its entry already out of the heap) and hands back its callback (for the caller
  // to run or destroy).
  absl::AnyInvocable<void()> Release(uint32_t slot);
  // Drops the index's fired and cancelled ids when they outnumber the queued timers.
  void PruneIndex();

  TimerId next_id_ = 1;
  size_t live_ = 0;  // queued timers: the heap's length
  // Its first live_ entries: a min-heap by (deadline, id) of the queued timers. Never shrinks, so
  // a push needs no capacity check beyond live_ == size().
  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<IndexEntry> index_;  // sorted by id (ids rise, so Add appends)
  size_t index_dead_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIBER_TIMER_QUEUE_H_
