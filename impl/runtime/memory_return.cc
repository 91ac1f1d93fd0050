#include "impl/runtime/memory_return.h"

#include <malloc.h>
#include <time.h>

#include "impl/tunables.h"

namespace drpc::runtime {
namespace {

int64_t MonotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

void MallocTrimReturn::ReturnFreeMemory() {
  calls_.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = MonotonicNanos();
  int64_t last = last_trim_ns_.load(std::memory_order_relaxed);
  if (last != INT64_MIN && now - last < tunables::kMemoryReturnMinInterval.nanos()) return;
  // One thread wins the interval; the others return at once.
  if (!last_trim_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  trims_.fetch_add(1, std::memory_order_relaxed);
  malloc_trim(0);
}

MallocTrimReturn& ProcessMemoryReturn() {
  static MallocTrimReturn* const instance = new MallocTrimReturn();
  return *instance;
}

}  // namespace drpc::runtime
