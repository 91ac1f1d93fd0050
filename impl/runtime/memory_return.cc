#include "impl/runtime/memory_return.h"

#include <malloc.h>

#include <atomic>

namespace drpc::runtime {
namespace {

std::atomic<uint64_t> process_trims{0};

}  // namespace

void ReactorMemoryReturn::Trim() {
  process_trims.fetch_add(1, std::memory_order_relaxed);
  malloc_trim(0);
}

uint64_t ProcessMemoryTrims() { return process_trims.load(std::memory_order_relaxed); }

}  // namespace drpc::runtime
