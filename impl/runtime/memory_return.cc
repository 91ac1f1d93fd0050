#include "impl/runtime/memory_return.h"

#include <malloc.h>

namespace drpc::runtime {

uint64_t ProcessTrims::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return throttle_.requests();
}

uint64_t ProcessTrims::trims() const {
  std::lock_guard<std::mutex> lock(mu_);
  return throttle_.trims();
}

TrimThrottle::Decision ProcessTrims::Request(Instant now) {
  std::lock_guard<std::mutex> lock(mu_);
  return throttle_.Request(now);
}

void ProcessTrims::RunScheduled(Instant now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    throttle_.ScheduledTrimDue(now);
  }
  malloc_trim(0);
}

void ProcessTrims::LoseScheduled() {
  std::lock_guard<std::mutex> lock(mu_);
  throttle_.ScheduledTrimLost();
}

ProcessTrims& ProcessMemoryReturn() {
  static ProcessTrims* const instance = new ProcessTrims();
  return *instance;
}

ReactorMemoryReturn::~ReactorMemoryReturn() {
  if (timer_ != 0) trims_->LoseScheduled();
}

void ReactorMemoryReturn::ReturnFreeMemory() {
  // Every reactor's clock is CLOCK_MONOTONIC, so instants from different reactors compare.
  const TrimThrottle::Decision d = trims_->Request(clock_->Now());
  switch (d.action) {
    case TrimThrottle::Action::kTrimNow:
      malloc_trim(0);
      return;
    case TrimThrottle::Action::kSchedule:
      timer_ = clock_->ScheduleAt(d.trim_at, [this] {
        timer_ = 0;
        trims_->RunScheduled(clock_->Now());
      });
      return;
    case TrimThrottle::Action::kJoin:
      return;
  }
}

}  // namespace drpc::runtime
