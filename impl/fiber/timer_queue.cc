#include "impl/fiber/timer_queue.h"

#include <algorithm>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

// Fired and cancelled ids the index keeps beyond the number of queued timers before it is
// compacted (so tiny queues do not compact on every cancel).
constexpr size_t kDeadSlackCount = 64;

}  // namespace

void TimerQueue::GrowHeap() { heap_.emplace_back(); }

uint32_t TimerQueue::NewSlot() {
  DRPC_CHECK_LT(slots_.size(), size_t{UINT32_MAX}) << "timer slots exhausted";
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

// The helpers are inline into Add, Cancel and PopNext: each call boundary costs register saves
// around their failure paths, and the simulator adds or pops a timer per network segment.

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void TimerQueue::HeapPush(Instant deadline, TimerId id,
                                                               uint32_t slot) {
  const Entry e{deadline, id, slot};
  size_t hole = live_;
  if (ABSL_PREDICT_FALSE(hole == heap_.size())) GrowHeap();
  ++live_;
  while (hole > 0) {
    const size_t parent = (hole - 1) / 2;
    if (!Later{}(heap_[parent], e)) break;
    HeapPlace(hole, heap_[parent]);
    hole = parent;
  }
  HeapPlace(hole, e);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void TimerQueue::HeapRemove(size_t pos) {
  const size_t n = --live_;
  const Entry last = heap_[n];
  if (pos == n) return;  // it was the last entry
  size_t hole = pos;
  // `last` moves into the hole: up if it is earlier than the hole's parent, else down.
  while (hole > 0) {
    const size_t parent = (hole - 1) / 2;
    if (!Later{}(heap_[parent], last)) break;
    HeapPlace(hole, heap_[parent]);
    hole = parent;
  }
  if (hole == pos) {
    for (size_t child = 2 * hole + 1; child < n; child = 2 * hole + 1) {
      if (child + 1 < n && Later{}(heap_[child], heap_[child + 1])) ++child;
      if (!Later{}(last, heap_[child])) break;
      HeapPlace(hole, heap_[child]);
      hole = child;
    }
  }
  HeapPlace(hole, last);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline TimerQueue::Slot* TimerQueue::Find(TimerId id) {
  if (index_.empty() || id > index_.back().id) return nullptr;
  // Ids are unique and rise along the index, so at most `back.id - id` entries follow `id`'s:
  // its position is at least `guess`, and exactly `guess` when no id after it was pruned — the
  // usual case, since a deadline is cancelled soon after it was set.
  const TimerId behind = index_.back().id - id;
  const size_t guess = behind < index_.size() ? index_.size() - 1 - behind : 0;
  auto it = index_.begin() + static_cast<ptrdiff_t>(guess);
  if (it->id != id) {
    it = std::lower_bound(it, index_.end(), id,
                          [](const IndexEntry& e, TimerId key) { return e.id < key; });
    if (it->id != id) return nullptr;  // `it` is not end(): back().id >= id
  }
  Slot& slot = slots_[it->slot];
  return slot.id == id ? &slot : nullptr;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void TimerQueue::FreeSlot(uint32_t slot) {
  DRPC_DCHECK(slots_[slot].callback == nullptr);
  slots_[slot].id = 0;
  free_slots_.push_back(slot);
  ++index_dead_;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::AnyInvocable<void()> TimerQueue::Release(
    uint32_t slot) {
  absl::AnyInvocable<void()> callback = std::move(slots_[slot].callback);
  // Left empty by the move (absl's move constructor empties its source, which absl does not
  // promise: sync_test's MovedFromCallbackIsEmpty pins it): no second reset, which is an
  // indirect call. The next Add assigns the slot a new callback either way.
  FreeSlot(slot);
  return callback;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline TimerQueue::Slot& TimerQueue::Queue(Instant deadline,
                                                                        TimerId id) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = NewSlot();
  }
  DRPC_DCHECK(slots_[slot].id == 0);
  slots_[slot].id = id;
  HeapPush(deadline, id, slot);
  index_.push_back(IndexEntry{id, slot});
  return slots_[slot];
}

TimerId TimerQueue::Add(Instant deadline, absl::AnyInvocable<void()>&& callback) {
  const TimerId id = next_id_++;
  Slot& slot = Queue(deadline, id);
  slot.fn = nullptr;
  slot.callback = std::move(callback);
  return id;
}

TimerId TimerQueue::AddPlain(Instant deadline, PlainCallback fn, void* context) {
  DRPC_DCHECK(fn != nullptr);
  const TimerId id = next_id_++;
  Slot& slot = Queue(deadline, id);
  slot.fn = fn;
  slot.context = context;
  return id;
}

bool TimerQueue::Cancel(TimerId id) {
  if (id == 0 || id >= next_id_) return false;
  Slot* slot = Find(id);
  if (slot == nullptr) return false;
  HeapRemove(slot->heap_pos);
  const auto index = static_cast<uint32_t>(slot - slots_.data());
  if (slot->fn != nullptr) {
    FreeSlot(index);
    PruneIndex();
    return true;
  }
  // Destroyed at the end, once the queue is consistent again (its captures may cancel timers).
  absl::AnyInvocable<void()> dropped = Release(index);
  PruneIndex();
  return true;
}

void TimerQueue::PruneIndex() {
  if (index_dead_ > live_ + kDeadSlackCount) {
    index_.erase(std::remove_if(index_.begin(), index_.end(),
                                [this](const IndexEntry& e) { return slots_[e.slot].id != e.id; }),
                 index_.end());
    index_dead_ = 0;
  }
  DRPC_DCHECK(heap_.size() >= live_);
  DRPC_DCHECK(index_.size() == live_ + index_dead_);
}

TimerQueue::Expired TimerQueue::PopNext() {
  DRPC_CHECK_COLD(live_ != 0, [](std::ostream& os) { os << "PopNext on an empty timer queue"; });
  const Entry top = heap_.front();
  DRPC_DCHECK_EQ(slots_[top.slot].id, top.id);
  HeapRemove(0);
  if (const PlainCallback fn = slots_[top.slot].fn; fn != nullptr) {
    void* const context = slots_[top.slot].context;
    FreeSlot(top.slot);
    PruneIndex();
    return Expired{top.deadline, top.id, [fn, context] { fn(context); }};
  }
  Expired expired{top.deadline, top.id, Release(top.slot)};
  PruneIndex();
  return expired;
}

TimerQueue::PlainExpired TimerQueue::PopNextIfPlain() {
  DRPC_CHECK_COLD(live_ != 0,
                  [](std::ostream& os) { os << "PopNextIfPlain on an empty timer queue"; });
  const Entry top = heap_.front();
  const Slot& slot = slots_[top.slot];
  if (slot.fn == nullptr) return PlainExpired{};
  const PlainExpired expired{top.deadline, top.id, slot.fn, slot.context};
  HeapRemove(0);
  FreeSlot(top.slot);
  PruneIndex();
  return expired;
}

size_t TimerQueue::RunDue(Instant now) {
  size_t ran = 0;
  while (live_ > 0 && heap_.front().deadline <= now) {
    ++ran;
    if (const PlainExpired plain = PopNextIfPlain(); plain.fn != nullptr) {
      plain.fn(plain.context);
      continue;
    }
    Expired expired = PopNext();
    expired.callback();
  }
  return ran;
}

void TimerQueue::Clear() {
  // The callbacks are destroyed after the queue is empty, so one whose captures cancel timers
  // as they are destroyed finds a consistent (empty) queue.
  std::vector<Slot> dropped;
  dropped.swap(slots_);
  heap_.clear();
  free_slots_.clear();
  index_.clear();
  live_ = index_dead_ = 0;
}

}  // namespace drpc
