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
// what the callback itself needs. Cancelled timers leave their heap entry behind until it reaches
// the top or the dead entries outnumber the live ones (then the heap is rebuilt), so memory stays
// within twice the timers queued.
// Not thread-safe: one owner, one thread. Deterministic: the order is a total order on unique keys.
#ifndef DRPC_IMPL_FIBER_TIMER_QUEUE_H_
#define DRPC_IMPL_FIBER_TIMER_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "impl/env.h"
#include "impl/time.h"

namespace drpc {

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Queues `callback` for `deadline` and returns its id (nonzero, one more than the previous).
  TimerId Add(Instant deadline, absl::AnyInvocable<void()> callback);

  // Removes a queued timer. True if it was queued; false if it already fired (or is firing),
  // was cancelled before, or `id` was never issued.
  bool Cancel(TimerId id);

  bool empty() const { return live_ == 0; }
  size_t size() const { return live_; }

  // The earliest queued deadline. Requires !empty().
  Instant next_deadline() const;

  struct Expired {
    Instant deadline;
    TimerId id = 0;
    absl::AnyInvocable<void()> callback;
  };
  // Takes the earliest timer out of the queue and hands it to the caller, who runs its callback.
  // Requires !empty().
  Expired PopNext();

  // Runs, in order, every timer whose deadline is at or before `now`, each taken out before it
  // runs (so one cancelled by an earlier callback never runs; one added by a callback with a
  // deadline at or before `now` runs in this call). Returns how many ran.
  size_t RunDue(Instant now);

  // Drops every queued timer without running it (teardown).
  void Clear();

 private:
  // A queued timer's heap entry; dead (cancelled) once its slot holds another id.
  struct Entry {
    Instant deadline;
    TimerId id = 0;
    uint32_t slot = 0;
  };
  struct Slot {
    TimerId id = 0;  // 0: free
    absl::AnyInvocable<void()> callback;
  };
  struct IndexEntry {
    TimerId id = 0;
    uint32_t slot = 0;
  };
  // The heap order: "later" is "less" (std's max-heap convention, which Prune's std::make_heap
  // keeps), so the earliest (deadline, id) is on top.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
    }
  };
  // The heap's own sifts (not std::push_heap/pop_heap): they keep the moving entry in registers.
  // std's copy it through memory in pieces and read it back whole, a store-forwarding stall that
  // was most of Add's time in the simulator (one timer per simulated network segment).
  void HeapPush(Instant deadline, TimerId id, uint32_t slot);
  void HeapPopTop();
  // The slot of queued timer `id`, or nullptr.
  Slot* Find(TimerId id);
  // Frees `slot` and hands back its callback (for the caller to run or destroy).
  absl::AnyInvocable<void()> Release(uint32_t slot);
  // Drops dead entries off the heap's top (so the top is always a queued timer), and rebuilds
  // the heap or the index when their dead entries outnumber the queued timers.
  void Prune();

  TimerId next_id_ = 1;
  size_t live_ = 0;
  std::vector<Entry> heap_;  // min-heap by (deadline, id)
  size_t heap_dead_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<IndexEntry> index_;  // sorted by id (ids rise, so Add appends)
  size_t index_dead_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIBER_TIMER_QUEUE_H_
