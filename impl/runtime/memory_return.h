// Production's MemoryReturn (impl/env.h): gives the allocator's cached free memory back to the
// system with glibc's malloc_trim, at most once per tunables::kMemoryReturnMinInterval for the
// whole process (a trim walks every arena; many connections going idle together after a burst
// need one trim, not one each). Every reactor's Env uses the one process-wide instance.
//
//   Env env(clock, scheduler, chaos, runtime::ProcessMemoryReturn());
//   env.memory().ReturnFreeMemory();   // trims now, or is covered by a trim under 500 ms ago
//
// Thread-safe. Calls inside the interval are dropped: the previous trim came after the frees
// that led to them only approximately, so a little cached memory may stay until the next call.
#ifndef DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_
#define DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_

#include <atomic>
#include <cstdint>

#include "impl/env.h"

namespace drpc::runtime {

class MallocTrimReturn final : public MemoryReturn {
 public:
  void ReturnFreeMemory() override;
  // Calls, and trims actually made (observability, tests).
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  uint64_t trims() const { return trims_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> last_trim_ns_{INT64_MIN};
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> trims_{0};
};

// The process's instance, shared by every reactor.
MallocTrimReturn& ProcessMemoryReturn();

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_MEMORY_RETURN_H_
