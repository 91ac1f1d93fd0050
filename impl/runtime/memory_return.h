// Production's MemoryReturn (impl/env.h): gives the allocator's cached free memory back to the
// system with glibc's malloc_trim, spaced by one process-wide TrimThrottle (impl/trim_throttle.h):
// at most one trim per tunables::kMemoryReturnMinInterval for the whole process (a trim walks
// every arena; many connections going idle together after a burst need one trim, not one each),
// and a request inside the interval schedules one trim at its end on the asking reactor's clock,
// so the memory freed by the last connections of a burst does not stay cached.
//
//   ReactorMemoryReturn memory(reactor_clock, ProcessMemoryReturn());
//   Env env(reactor_clock, scheduler, chaos, memory);
//   env.memory().ReturnFreeMemory();   // trims now, or at the end of the current interval
//
// ProcessTrims is thread-safe. A ReactorMemoryReturn belongs to one reactor: called on its loop
// thread (fibers and timers), destroyed with it (a trim it scheduled is then handed back: the
// next request of any reactor schedules again).
#ifndef DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_
#define DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_

#include <cstdint>
#include <mutex>

#include "impl/env.h"
#include "impl/trim_throttle.h"

namespace drpc::runtime {

// The process's trims: one throttle shared by every reactor.
class ProcessTrims {
 public:
  // Requests, and trims actually made (observability, tests).
  uint64_t calls() const;
  uint64_t trims() const;

 private:
  friend class ReactorMemoryReturn;
  TrimThrottle::Decision Request(Instant now);
  // Records the scheduled trim and trims.
  void RunScheduled(Instant now);
  void LoseScheduled();

  mutable std::mutex mu_;
  TrimThrottle throttle_;  // guarded by mu_
};

// The process's instance.
ProcessTrims& ProcessMemoryReturn();

// One reactor's view of ProcessTrims: schedules the deferred trim on the reactor's clock.
class ReactorMemoryReturn final : public MemoryReturn {
 public:
  ReactorMemoryReturn(Clock& clock, ProcessTrims& trims) : clock_(&clock), trims_(&trims) {}
  // Does not cancel a pending timer (the reactor's timers go with it): hands the trim back.
  ~ReactorMemoryReturn() override;
  ReactorMemoryReturn(const ReactorMemoryReturn&) = delete;
  ReactorMemoryReturn& operator=(const ReactorMemoryReturn&) = delete;

  void ReturnFreeMemory() override;

 private:
  Clock* clock_;
  ProcessTrims* trims_;
  TimerId timer_ = 0;  // the process's scheduled trim, when this reactor holds it
};

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_
