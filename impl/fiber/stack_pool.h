// Fiber stacks carved from large mappings (slabs), each stack with a guard page below it, handed
// out within a budget: running out of stacks, of kernel memory maps or of memory is a status for
// the code that asked, never an abort.
//
//   StackPool pool(StackPool::Options{.stack_bytes = 256 * 1024});
//   absl::StatusOr<FiberStack> s = pool.Allocate();   // kResourceExhausted at the budget
//   if (!s.ok()) return s.status();
//   ... s->top is the initial stack pointer (stacks grow down) ...
//   pool.Release(*s);
//
// Why slabs: the kernel limits memory maps per process (vm.max_map_count, 65,530 by default), and
// a stack mapped on its own with an mprotect'ed guard costs two. A slab holds
// Options::slab_stack_count stacks in one mapping; on Linux >= 6.13 the guard pages are installed
// with MADV_GUARD_INSTALL, which marks them in the page tables without splitting the mapping, so a
// slab of 64 stacks is one map. Older kernels reject that advice and get mprotect'ed guards (two
// maps per stack, as before); Options::mapping_count_max bounds what the pool may take either way.
//
// Reuse: a released stack goes back to its slab; allocation prefers the oldest slab with a free
// stack, so newer slabs drain and are unmapped once entirely free (one free slab is kept). The
// memory of free stacks beyond Options::cached_max_count is given back to the system
// (MADV_DONTNEED); the stack stays mapped and guarded.
//
// Between pools: a pool given a StackSlabCache (Options::slab_cache) parks the entirely free slabs
// it would unmap there, and takes a parked slab of its own geometry before mapping a new one. A
// program that builds a scheduler per run (the simulator, one per seed) then reuses mapped,
// guarded and already-touched stacks instead of mapping, guarding and faulting them in every run.
//
// Not thread-safe: each scheduler (simulator, or one production reactor) owns its own pool.
#ifndef DRPC_IMPL_FIBER_STACK_POOL_H_
#define DRPC_IMPL_FIBER_STACK_POOL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "impl/tunables.h"

namespace drpc {

class StackSlabCache;

struct FiberStack {
  void* bottom = nullptr;  // lowest usable address (just above the guard page)
  void* top = nullptr;     // highest address: the initial stack pointer
  uint64_t slab = 0;       // the pool's slab holding it
  uint32_t index = 0;      // position in the slab
  size_t usable_bytes() const {
    return static_cast<size_t>(static_cast<char*>(top) - static_cast<char*>(bottom));
  }
};

class StackPool {
 public:
  enum class Guard {
    kAuto,      // page-table guards where the kernel has them, else mprotect'ed pages
    kMprotect,  // always mprotect'ed guard pages (two kernel maps per stack)
  };
  struct Options {
    // Usable bytes per stack, rounded up to whole pages (>= 16 KiB); a guard page lies below.
    size_t stack_bytes = tunables::kFiberStackDefaultBytes;
    // Stacks per mapping (>= 1).
    size_t slab_stack_count = tunables::kFiberSlabStackCount;
    // Stacks in use at once; Allocate beyond it fails with kResourceExhausted.
    size_t stack_count_max = tunables::kFiberStacksDefaultMaxCount;
    // Kernel memory maps the pool's slabs may cost together (an upper bound: the kernel may merge
    // neighbouring slabs); a slab that would exceed it is not mapped.
    size_t mapping_count_max = tunables::kFiberMapsDefaultMaxCount;
    // Free stacks whose memory is kept for reuse; the memory of more is given back.
    size_t cached_max_count = tunables::kFiberStacksCachedDefaultMaxCount;
    Guard guard = Guard::kAuto;
    // Where entirely free slabs go instead of being unmapped, and where new slabs come from
    // first; null: slabs are mapped and unmapped by this pool alone. Used only while it is alive
    // on the thread that uses the pool (otherwise slabs are mapped and unmapped as without it).
    StackSlabCache* slab_cache = nullptr;
  };

  explicit StackPool(Options options);
  // Gives up every slab (parked in Options::slab_cache or unmapped); every allocated stack must
  // have been released or abandoned (slabs holding an abandoned stack stay mapped for the life of
  // the process).
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // A stack, or kResourceExhausted naming the budget that was reached (stack_count_max,
  // mapping_count_max) or the system call that failed (mmap, madvise, mprotect: out of memory or
  // out of kernel maps).
  absl::StatusOr<FiberStack> Allocate();
  void Release(FiberStack stack);
  // Gives up a stack for ever: it stays mapped (something may still point into it) and is never
  // reused. Used for fibers abandoned mid-body after a failed simulation run.
  void Abandon(FiberStack stack);

  size_t stack_bytes() const { return stack_bytes_; }
  size_t outstanding_count() const { return outstanding_; }
  // Free stacks whose memory is kept (at most Options::cached_max_count).
  size_t cached_count() const { return warm_free_; }
  size_t slab_count() const { return slabs_.size(); }
  // Kernel maps the slabs cost (an upper bound).
  size_t mapping_count() const { return maps_; }
  // Whether the slabs mapped so far use page-table guards (false: mprotect'ed guard pages).
  bool page_table_guards() const { return page_table_guards_; }

 private:
  struct Slab {
    char* base = nullptr;
    size_t mapped_bytes = 0;
    size_t maps = 0;
    struct Free {
      uint32_t index;
      bool warm;  // memory kept (not given back)
    };
    std::vector<Free> free;  // LIFO: the most recently released stack is reused first
    size_t in_use = 0;
    size_t abandoned = 0;
    bool page_table_guards = false;  // else two mprotect'ed maps per stack
  };

  friend class StackSlabCache;

  absl::StatusOr<uint64_t> MapSlab();
  // Options::slab_cache if it is alive on this thread, else null.
  StackSlabCache* UsableCache() const;
  // A parked slab of this pool's geometry whose guards a fresh slab could have and whose maps fit
  // the budget, if Options::slab_cache has one.
  bool TakeParkedSlab(Slab& slab);
  uint64_t AddSlab(Slab slab);
  absl::Status InstallGuards(Slab& slab);
  // Parks the free slab in Options::slab_cache, or unmaps it when the cache has no room.
  void GiveUpSlab(Slab& slab);
  void UnmapSlab(uint64_t id);
  FiberStack StackAt(uint64_t id, const Slab& slab, uint32_t index) const;
  // After a release: gives back the memory of free stacks beyond the cache and unmaps a second
  // entirely free slab.
  void Trim(uint64_t id, Slab& slab);

  const size_t stack_bytes_;
  const Options options_;
  size_t outstanding_ = 0;
  size_t warm_free_ = 0;
  size_t maps_ = 0;
  size_t empty_slabs_ = 0;  // slabs with no stack in use or abandoned (at most one is kept)
  bool page_table_guards_ = false;
  uint64_t next_slab_id_ = 1;
  std::map<uint64_t, Slab> slabs_;       // by creation order
  std::set<uint64_t> slabs_with_free_;   // allocation takes the oldest
};

// Entirely free stack slabs kept between the StackPools of one thread (see StackPool above).
// Holds at most `slab_count_max` slabs; parking one more unmaps the one parked longest ago. A
// parked slab keeps its guards and the pages its stacks touched, so the memory it holds is at most
// slab_count_max × stacks per slab × stack bytes (fibers touch a few pages of theirs). A pool takes
// only a slab of its own stack size and stacks per slab, with the guard kind a fresh slab of its
// would get, so its map count and budgets are what mapping would give, and the slab hands out its
// stacks in a fresh slab's order. Its stacks hold what the last run left in them where a fresh
// stack reads zero pages: only code reading uninitialised memory can tell.
//
// Not thread-safe: built and destroyed on one thread, and used by the pools on that thread only
// (a pool destroyed on another thread, or after the cache, unmaps its slabs itself).
class StackSlabCache {
 public:
  explicit StackSlabCache(size_t slab_count_max);
  // Unmaps every parked slab. On the thread that built the cache.
  ~StackSlabCache();
  StackSlabCache(const StackSlabCache&) = delete;
  StackSlabCache& operator=(const StackSlabCache&) = delete;

  size_t slab_count() const { return parked_.size(); }

 private:
  friend class StackPool;
  struct Parked {
    StackPool::Slab slab;
    size_t stack_bytes = 0;
    size_t stack_count = 0;
  };
  enum class Guards { kPageTable, kMprotect, kEither };

  // Whether `cache` was built on this thread and is not yet destroyed.
  static bool AliveOnThisThread(const StackSlabCache* cache);
  void Park(Parked parked);
  bool Take(size_t stack_bytes, size_t stack_count, Guards guards, size_t maps_max,
            StackPool::Slab& out);

  const size_t slab_count_max_;
  std::vector<Parked> parked_;  // oldest first: the most recently parked slab is the warmest
  StackSlabCache* next_alive_ = nullptr;  // this thread's other live caches
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIBER_STACK_POOL_H_
