// The allocation counter bench_lib's measurements read (alloc_counter.h).
#include <atomic>
#include <cstdint>

#include "tools/bench/alloc_counter.h"

namespace drpc::bench {
namespace {
std::atomic<uint64_t (*)()> counter_fn{nullptr};
}  // namespace

void SetAllocationCounter(uint64_t (*counter)()) { counter_fn.store(counter); }
bool HasAllocationCounter() { return counter_fn.load() != nullptr; }
uint64_t AllocationCount() {
  uint64_t (*fn)() = counter_fn.load(std::memory_order_relaxed);
  return fn == nullptr ? 0 : fn();
}

}  // namespace drpc::bench
