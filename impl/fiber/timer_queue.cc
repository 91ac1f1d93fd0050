#include "impl/fiber/timer_queue.h"

#include <algorithm>
#include <utility>

#include "proto/base/check.h"

namespace drpc {
namespace {

// Dead entries tolerated beyond the number of queued timers before a rebuild (so tiny queues do
// not rebuild on every cancel).
constexpr size_t kDeadSlackCount = 64;

}  // namespace

TimerId TimerQueue::Add(Instant deadline, absl::AnyInvocable<void()> callback) {
  const TimerId id = next_id_++;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    DRPC_CHECK_LT(slots_.size(), size_t{UINT32_MAX}) << "timer slots exhausted";
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  DRPC_DCHECK(slots_[slot].id == 0);
  slots_[slot].id = id;
  slots_[slot].callback = std::move(callback);
  HeapPush(deadline, id, slot);
  index_.push_back(IndexEntry{id, slot});
  ++live_;
  return id;
}

void TimerQueue::HeapPush(Instant deadline, TimerId id, uint32_t slot) {
  const Entry e{deadline, id, slot};
  size_t hole = heap_.size();
  heap_.emplace_back();
  while (hole > 0) {
    const size_t parent = (hole - 1) / 2;
    if (!Later{}(heap_[parent], e)) break;
    heap_[hole] = heap_[parent];
    hole = parent;
  }
  heap_[hole] = e;
}

void TimerQueue::HeapPopTop() {
  const Entry last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n == 0) return;
  size_t hole = 0;
  for (size_t child = 1; child < n; child = 2 * hole + 1) {
    if (child + 1 < n && Later{}(heap_[child], heap_[child + 1])) ++child;
    if (!Later{}(last, heap_[child])) break;
    heap_[hole] = heap_[child];
    hole = child;
  }
  heap_[hole] = last;
}

TimerQueue::Slot* TimerQueue::Find(TimerId id) {
  auto it = std::lower_bound(index_.begin(), index_.end(), id,
                             [](const IndexEntry& e, TimerId key) { return e.id < key; });
  if (it == index_.end() || it->id != id) return nullptr;
  Slot& slot = slots_[it->slot];
  return slot.id == id ? &slot : nullptr;
}

absl::AnyInvocable<void()> TimerQueue::Release(uint32_t slot) {
  absl::AnyInvocable<void()> callback = std::move(slots_[slot].callback);
  slots_[slot].callback = nullptr;
  slots_[slot].id = 0;
  free_slots_.push_back(slot);
  --live_;
  ++index_dead_;
  return callback;
}

bool TimerQueue::Cancel(TimerId id) {
  if (id == 0 || id >= next_id_) return false;
  Slot* slot = Find(id);
  if (slot == nullptr) return false;
  // Destroyed at the end, once the queue is consistent again (its captures may cancel timers).
  absl::AnyInvocable<void()> dropped = Release(static_cast<uint32_t>(slot - slots_.data()));
  ++heap_dead_;
  Prune();
  return true;
}

void TimerQueue::Prune() {
  auto dead = [this](const Entry& e) { return slots_[e.slot].id != e.id; };
  while (!heap_.empty() && dead(heap_.front())) {
    HeapPopTop();
    --heap_dead_;
  }
  if (heap_dead_ > live_ + kDeadSlackCount) {
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(), dead), heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), Later{});
    heap_dead_ = 0;
  }
  if (index_dead_ > live_ + kDeadSlackCount) {
    index_.erase(std::remove_if(index_.begin(), index_.end(),
                                [this](const IndexEntry& e) { return slots_[e.slot].id != e.id; }),
                 index_.end());
    index_dead_ = 0;
  }
  DRPC_DCHECK(heap_.size() == live_ + heap_dead_);
  DRPC_DCHECK(index_.size() == live_ + index_dead_);
}

Instant TimerQueue::next_deadline() const {
  DRPC_CHECK(live_ > 0) << "next_deadline of an empty timer queue";
  return heap_.front().deadline;
}

TimerQueue::Expired TimerQueue::PopNext() {
  DRPC_CHECK(live_ > 0) << "PopNext on an empty timer queue";
  const Entry top = heap_.front();
  DRPC_CHECK_EQ(slots_[top.slot].id, top.id) << "the heap's top is a cancelled timer";
  HeapPopTop();
  Expired expired{top.deadline, top.id, Release(top.slot)};
  Prune();
  return expired;
}

size_t TimerQueue::RunDue(Instant now) {
  size_t ran = 0;
  while (live_ > 0 && heap_.front().deadline <= now) {
    Expired expired = PopNext();
    ++ran;
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
  live_ = heap_dead_ = index_dead_ = 0;
}

}  // namespace drpc
