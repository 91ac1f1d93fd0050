// The rule that spaces out the allocator trims of a process (Env::memory(), impl/env.h), shared by
// production's MemoryReturn (impl/runtime/memory_return.h) and the simulator's: at most one trim
// per `min_interval`, and a request inside the interval is deferred rather than dropped — it asks
// for one trim at the interval's end, and every request until then joins that one. So the memory
// freed by the last connections of a burst is given back within one interval, and a burst of
// requests costs at most two trims per interval.
//
//   TrimThrottle throttle;  // tunables::kMemoryReturnMinInterval
//   TrimThrottle::Decision d = throttle.Request(clock.Now());
//   if (d.action == TrimThrottle::Action::kTrimNow) Trim();
//   if (d.action == TrimThrottle::Action::kSchedule) {
//     clock.ScheduleAt(d.trim_at, [&] { throttle.ScheduledTrimDue(clock.Now()); Trim(); });
//   }
//
// Not thread-safe: a process-wide user holds it under a lock. The caller owns the scheduled timer
// and must call ScheduledTrimDue when it fires, or ScheduledTrimLost if it never will.
#ifndef DRPC_IMPL_TRIM_THROTTLE_H_
#define DRPC_IMPL_TRIM_THROTTLE_H_

#include <cstdint>
#include <optional>

#include "impl/time.h"

namespace drpc {

class TrimThrottle {
 public:
  enum class Action {
    kTrimNow,   // trim at once (no trim in the last interval)
    kSchedule,  // schedule one trim at Decision::trim_at (none was pending)
    kJoin,      // a trim is already scheduled; it covers this request
  };
  struct Decision {
    Action action;
    Instant trim_at;  // for kSchedule: the end of the interval of the last trim
  };

  // At most one trim per tunables::kMemoryReturnMinInterval.
  TrimThrottle();
  explicit TrimThrottle(Duration min_interval) : min_interval_(min_interval) {}

  // A request to give memory back at `now` (a clock that never goes backwards).
  Decision Request(Instant now);
  // The trim scheduled by a kSchedule decision runs now; the caller trims after this returns.
  void ScheduledTrimDue(Instant now);
  // The trim scheduled by a kSchedule decision will never run (its clock went away): the next
  // request decides afresh.
  void ScheduledTrimLost() { scheduled_ = false; }

  bool scheduled() const { return scheduled_; }
  uint64_t requests() const { return requests_; }
  // Trims made or due: immediate ones plus scheduled ones that ran.
  uint64_t trims() const { return trims_; }
  // Requests that scheduled a trim (kSchedule).
  uint64_t deferred() const { return deferred_; }

 private:
  const Duration min_interval_;
  std::optional<Instant> last_trim_;
  bool scheduled_ = false;
  uint64_t requests_ = 0;
  uint64_t trims_ = 0;
  uint64_t deferred_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_TRIM_THROTTLE_H_
