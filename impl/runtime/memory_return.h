// Production's MemoryReturn (impl/env.h): gives the allocator's cached free memory back to the
// system with glibc's malloc_trim. When is decided above the seam, by the Env's
// MemoryReturnThrottle (impl/trim_throttle.h), which production and the simulator share: each
// reactor's Env trims at most once per tunables::kMemoryReturnMinInterval, and a request inside
// the interval schedules one trim at its end on the reactor's clock, so the memory freed by the
// last connections of a burst does not stay cached. With R reactors the process trims at most
// 2·R times per interval.
//
//   ReactorMemoryReturn memory;
//   Env env(reactor_clock, scheduler, chaos, memory);
//   env.memory().Request();   // trims now, or at the end of the current interval
//
// Trim is thread-safe; ProcessMemoryTrims counts every reactor's trims.
#ifndef DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_
#define DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_

#include <cstdint>

#include "impl/env.h"

namespace drpc::runtime {

class ReactorMemoryReturn final : public MemoryReturn {
 public:
  void Trim() override;
};

// Trims made by every ReactorMemoryReturn of the process so far (observability, benchmarks).
uint64_t ProcessMemoryTrims();

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_
