#include "impl/trim_throttle.h"

#include "impl/tunables.h"

namespace drpc {

TrimThrottle::TrimThrottle() : TrimThrottle(tunables::kMemoryReturnMinInterval) {}

TrimThrottle::Decision TrimThrottle::Request(Instant now) {
  ++requests_;
  if (scheduled_) return Decision{Action::kJoin, Instant()};
  if (!last_trim_.has_value() || now - *last_trim_ >= min_interval_) {
    last_trim_ = now;
    ++trims_;
    return Decision{Action::kTrimNow, now};
  }
  scheduled_ = true;
  ++deferred_;
  return Decision{Action::kSchedule, *last_trim_ + min_interval_};
}

void TrimThrottle::ScheduledTrimDue(Instant now) {
  scheduled_ = false;
  last_trim_ = now;
  ++trims_;
}

MemoryReturnThrottle::MemoryReturnThrottle(Clock& clock, MemoryReturn& memory)
    : MemoryReturnThrottle(clock, memory, tunables::kMemoryReturnMinInterval) {}

MemoryReturnThrottle::MemoryReturnThrottle(Clock& clock, MemoryReturn& memory,
                                           Duration min_interval)
    : clock_(&clock), memory_(&memory), rule_(min_interval) {}

void MemoryReturnThrottle::Request() {
  const TrimThrottle::Decision d = rule_.Request(clock_->Now());
  switch (d.action) {
    case TrimThrottle::Action::kTrimNow:
      memory_->Trim();
      return;
    case TrimThrottle::Action::kSchedule:
      clock_->ScheduleAt(d.trim_at, [weak = weak_from_this()] {
        const std::shared_ptr<MemoryReturnThrottle> self = weak.lock();
        if (self == nullptr) return;
        self->rule_.ScheduledTrimDue(self->clock_->Now());
        self->memory_->Trim();
      });
      return;
    case TrimThrottle::Action::kJoin:
      return;
  }
}

}  // namespace drpc
