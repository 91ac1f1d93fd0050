#include "impl/fiber/stack_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "proto/base/check.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DRPC_STACK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DRPC_STACK_ASAN 1
#endif
#if defined(DRPC_STACK_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace drpc {
namespace {

// A fiber's last frames never return (the switch out of a finished fiber, a stack reset), so
// AddressSanitizer's scope poisoning of them stays in the shadow of the stack's memory. Before the
// memory is used again — a cached stack handed to the next fiber, or unmapped memory that a later
// mmap may return — the shadow is cleared, or the next user trips over stale poison.
void ClearShadow(const FiberStack& s) {
#if defined(DRPC_STACK_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(s.bottom, s.usable_bytes());
#else
  (void)s;
#endif
}

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
  // Cached stacks were cleared when they were released.
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
  ClearShadow(stack);
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
