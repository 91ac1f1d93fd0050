// When impl/ gives the allocator's cached memory back (Env::memory(), impl/env.h): the Env
// implementations only trim (MemoryReturn::Trim: malloc_trim in production, a count in the
// simulator); this decides when, the same way on both. At most one trim per `min_interval`, and a
// request inside the interval is deferred rather than dropped — it asks for one trim at the
// interval's end, and every request until then joins that one. So the memory freed by the last
// connections of a burst is given back within one interval, and a burst of requests costs at
// most two trims per interval.
//
//   env.memory().Request();   // MemoryReturnThrottle: trims now, or at the end of the interval
//
//   TrimThrottle rule;        // the bare rule, on instants the caller supplies
//   if (rule.Request(now).action == TrimThrottle::Action::kTrimNow) Trim();
//
// Neither is thread-safe: they belong to one Env's scheduler (fibers and timer callbacks).
#ifndef DRPC_IMPL_TRIM_THROTTLE_H_
#define DRPC_IMPL_TRIM_THROTTLE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "impl/env.h"
#include "impl/time.h"

namespace drpc {

// The bare rule, on instants the caller supplies; the caller owns the scheduled timer and calls
// ScheduledTrimDue when it fires.
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

// The rule applied to an Env: trims its MemoryReturn now or schedules the deferred trim on its
// clock. Owned by a shared_ptr (Env builds it): a scheduled trim whose throttle is gone does
// nothing. `clock` and `memory` outlive it.
class MemoryReturnThrottle : public std::enable_shared_from_this<MemoryReturnThrottle> {
 public:
  MemoryReturnThrottle(Clock& clock, MemoryReturn& memory);
  MemoryReturnThrottle(Clock& clock, MemoryReturn& memory, Duration min_interval);
  MemoryReturnThrottle(const MemoryReturnThrottle&) = delete;
  MemoryReturnThrottle& operator=(const MemoryReturnThrottle&) = delete;

  // Asks for the allocator's cached memory to be given back: trims at once, or once at the end
  // of the interval of the last trim.
  void Request();

  uint64_t requests() const { return rule_.requests(); }
  // Trims made: immediate ones plus scheduled ones that ran.
  uint64_t trims() const { return rule_.trims(); }
  // Whether a trim is scheduled for the end of the current interval.
  bool scheduled() const { return rule_.scheduled(); }

 private:
  Clock* clock_;
  MemoryReturn* memory_;
  TrimThrottle rule_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_TRIM_THROTTLE_H_
