#include "impl/fiber/timer_queue.h"

#include "proto/base/check.h"

namespace drpc {

TimerId TimerQueue::Add(Instant deadline, absl::AnyInvocable<void()> callback) {
  const TimerId id = next_id_++;
  const bool inserted = by_deadline_.emplace(std::make_pair(deadline, id), std::move(callback)).second;
  DRPC_CHECK(inserted) << "timer id " << id << " issued twice";
  deadline_of_.emplace(id, deadline);
  DRPC_DCHECK(by_deadline_.size() == deadline_of_.size());
  return id;
}

bool TimerQueue::Cancel(TimerId id) {
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) return false;
  const size_t erased = by_deadline_.erase(std::make_pair(it->second, id));
  DRPC_CHECK_EQ(erased, 1u) << "timer " << id << " indexed but not queued";
  deadline_of_.erase(it);
  return true;
}

Instant TimerQueue::next_deadline() const {
  DRPC_CHECK(!by_deadline_.empty()) << "next_deadline of an empty timer queue";
  return by_deadline_.begin()->first.first;
}

TimerQueue::Expired TimerQueue::PopNext() {
  DRPC_CHECK(!by_deadline_.empty()) << "PopNext on an empty timer queue";
  auto it = by_deadline_.begin();
  Expired expired{it->first.first, it->first.second, std::move(it->second)};
  by_deadline_.erase(it);
  const size_t erased = deadline_of_.erase(expired.id);
  DRPC_CHECK_EQ(erased, 1u) << "timer " << expired.id << " queued but not indexed";
  return expired;
}

size_t TimerQueue::RunDue(Instant now) {
  size_t ran = 0;
  while (!by_deadline_.empty() && by_deadline_.begin()->first.first <= now) {
    Expired expired = PopNext();
    ++ran;
    expired.callback();
  }
  return ran;
}

void TimerQueue::Clear() {
  by_deadline_.clear();
  deadline_of_.clear();
}

}  // namespace drpc
