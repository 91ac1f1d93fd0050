#include "impl/fiber/stack_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "proto/base/check.h"

namespace drpc {
namespace {

// 4 KiB pages on every platform drpc-cpp targets (x86-64, aarch64 Linux with 4K pages); a larger
// real page size only makes the guard region smaller than a page, which mprotect rounds up.
constexpr size_t kPageBytes = 4096;

}  // namespace

StackPool::StackPool(Options options)
    : stack_bytes_((options.stack_bytes + kPageBytes - 1) / kPageBytes * kPageBytes),
      page_bytes_(kPageBytes),
      cached_max_count_(options.cached_max_count) {
  DRPC_CHECK_GE(stack_bytes_, 4 * kPageBytes) << "fiber stacks below 16 KiB are too small";
}

StackPool::~StackPool() {
  DRPC_CHECK_EQ(outstanding_, 0u) << "stack pool destroyed with stacks still in use";
  for (const FiberStack& s : cache_) munmap(s.base, s.mapped_bytes);
}

FiberStack StackPool::Allocate() {
  ++outstanding_;
  if (!cache_.empty()) {
    FiberStack s = cache_.back();
    cache_.pop_back();
    return s;
  }
  const size_t mapped = stack_bytes_ + page_bytes_;
  void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  DRPC_CHECK(base != MAP_FAILED) << "mmap of a " << mapped << "-byte fiber stack failed: "
                                 << std::strerror(errno);
  // The guard page turns a stack overflow into a segfault instead of silent corruption.
  DRPC_CHECK_EQ(mprotect(base, page_bytes_, PROT_NONE), 0) << std::strerror(errno);
  FiberStack s;
  s.base = base;
  s.mapped_bytes = mapped;
  s.bottom = static_cast<char*>(base) + page_bytes_;
  s.top = static_cast<char*>(base) + mapped;
  return s;
}

void StackPool::Release(FiberStack stack) {
  DRPC_CHECK_GT(outstanding_, 0u);
  --outstanding_;
  if (cache_.size() < cached_max_count_) {
    cache_.push_back(stack);
  } else {
    munmap(stack.base, stack.mapped_bytes);
  }
}

void StackPool::Abandon(FiberStack stack) {
  (void)stack;
  DRPC_CHECK_GT(outstanding_, 0u);
  --outstanding_;
}

}  // namespace drpc
