// Fiber stacks: mmap'd regions with a guard page below the usable stack, recycled through a
// bounded free list so spawning a fiber normally costs no system call.
//
//   StackPool pool(StackPool::Options{.stack_bytes = 256 * 1024});
//   FiberStack s = pool.Allocate();   // s.top is the initial stack pointer (stacks grow down)
//   pool.Release(s);
//
// Not thread-safe: each scheduler (simulator, or one production reactor) owns its own pool.
#ifndef DRPC_IMPL_FIBER_STACK_POOL_H_
#define DRPC_IMPL_FIBER_STACK_POOL_H_

#include <cstddef>
#include <vector>

namespace drpc {

struct FiberStack {
  void* base = nullptr;  // lowest address of the mapping (the guard page)
  size_t mapped_bytes = 0;
  void* bottom = nullptr;  // lowest usable address (just above the guard page)
  void* top = nullptr;     // highest address: the initial stack pointer
  size_t usable_bytes() const {
    return static_cast<size_t>(static_cast<char*>(top) - static_cast<char*>(bottom));
  }
};

class StackPool {
 public:
  struct Options {
    // Usable bytes per stack, rounded up to whole pages; a guard page is added below.
    size_t stack_bytes = 256 * 1024;
    // Stacks kept for reuse; beyond this, released stacks are unmapped.
    size_t cached_max_count = 256;
  };

  explicit StackPool(Options options);
  ~StackPool();  // unmaps cached stacks; every allocated stack must have been released
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // Aborts if the system is out of memory (a fiber without a stack cannot be reported otherwise).
  FiberStack Allocate();
  void Release(FiberStack stack);
  // Gives up a stack for ever: it stays mapped (something may still point into it) and is never
  // reused. Used for fibers abandoned mid-body after a failed simulation run.
  void Abandon(FiberStack stack);

  size_t stack_bytes() const { return stack_bytes_; }
  size_t outstanding_count() const { return outstanding_; }
  size_t cached_count() const { return cache_.size(); }

 private:
  size_t stack_bytes_;
  size_t page_bytes_;
  size_t cached_max_count_;
  size_t outstanding_ = 0;
  std::vector<FiberStack> cache_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIBER_STACK_POOL_H_
