#include "impl/fiber/stack_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

// Linux 6.13's madvise advice that turns pages into guard pages in the page tables, without
// changing (and so splitting) the mapping; older kernels reject it with EINVAL. Debian 12's
// headers predate it.
#ifndef MADV_GUARD_INSTALL
constexpr int kMadvGuardInstall = 102;
#else
constexpr int kMadvGuardInstall = MADV_GUARD_INSTALL;
#endif

// Whether this kernel accepts page-table guards: unknown until the first slab asks. Shared by
// every pool of the process (reactors on several threads), hence atomic.
enum GuardSupport : int { kUnknown = 0, kSupported = 1, kUnsupported = 2 };
std::atomic<int> g_page_table_guards{kUnknown};

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
// real page size only makes the guard region smaller than a page, which the kernel rounds up.
constexpr size_t kPageBytes = 4096;

absl::Status Exhausted(absl::string_view what) {
  return absl::ResourceExhaustedError(absl::StrCat("out of fiber stacks: ", what));
}

absl::Status SyscallExhausted(const char* call, size_t bytes, int err) {
  return Exhausted(absl::StrCat(call, " of a ", bytes, "-byte stack slab failed: ",
                                std::strerror(err)));
}

}  // namespace

StackPool::StackPool(Options options)
    : stack_bytes_((options.stack_bytes + kPageBytes - 1) / kPageBytes * kPageBytes),
      options_(options) {
  DRPC_CHECK_GE(stack_bytes_, 4 * kPageBytes) << "fiber stacks below 16 KiB are too small";
  DRPC_CHECK_GE(options_.slab_stack_count, 1u);
  DRPC_CHECK_LE(options_.slab_stack_count, 1u << 16) << "slab indices are 32-bit and small";
  DRPC_CHECK_GE(options_.stack_count_max, 1u);
}

StackPool::~StackPool() {
  DRPC_CHECK_EQ(outstanding_, 0u) << "stack pool destroyed with stacks still in use";
  // Free stacks were cleared when they were released; slabs with an abandoned stack stay mapped.
  for (auto& [id, slab] : slabs_) {
    if (slab.abandoned == 0) GiveUpSlab(slab);
  }
}

FiberStack StackPool::StackAt(uint64_t id, const Slab& slab, uint32_t index) const {
  char* guard = slab.base + static_cast<size_t>(index) * (kPageBytes + stack_bytes_);
  FiberStack s;
  s.bottom = guard + kPageBytes;
  s.top = guard + kPageBytes + stack_bytes_;
  s.slab = id;
  s.index = index;
  return s;
}

absl::Status StackPool::InstallGuards(Slab& slab) {
  const size_t count = options_.slab_stack_count;
  const size_t stride = kPageBytes + stack_bytes_;
  // The guard page turns a stack overflow into a segfault instead of silent corruption.
  if (options_.guard == Guard::kAuto && g_page_table_guards.load() != kUnsupported) {
    size_t i = 0;
    for (; i < count; ++i) {
      if (madvise(slab.base + i * stride, kPageBytes, kMadvGuardInstall) != 0) break;
    }
    if (i == count) {
      g_page_table_guards.store(kSupported);
      page_table_guards_ = true;
      slab.page_table_guards = true;
      slab.maps = 1;
      return absl::OkStatus();
    }
    const int err = errno;
    // The kernel does not know the advice (or a sandbox forbids it): fall back to mprotect. Any
    // other failure after some guards went in is a real shortage.
    if (i > 0 || (err != EINVAL && err != EPERM && err != ENOSYS)) {
      return SyscallExhausted("madvise(MADV_GUARD_INSTALL)", slab.mapped_bytes, err);
    }
    if (err == EINVAL) g_page_table_guards.store(kUnsupported);
  }
  page_table_guards_ = false;
  for (size_t i = 0; i < count; ++i) {
    if (mprotect(slab.base + i * stride, kPageBytes, PROT_NONE) != 0) {
      return SyscallExhausted("mprotect", slab.mapped_bytes, errno);
    }
  }
  // Guard, stack, guard, stack...: every guard splits the mapping.
  slab.maps = 2 * count;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> StackPool::MapSlab() {
  const size_t count = options_.slab_stack_count;
  const bool mprotect_guards =
      options_.guard == Guard::kMprotect || g_page_table_guards.load() == kUnsupported;
  const size_t expected_maps = mprotect_guards ? 2 * count : 1;
  auto over_budget = [&](size_t maps) {
    return Exhausted(absl::StrCat("a slab of ", count, " stacks costs ", maps,
                                  " kernel maps and this scheduler's stacks already use ", maps_,
                                  " of their budget of ", options_.mapping_count_max));
  };
  if (maps_ + expected_maps > options_.mapping_count_max) return over_budget(expected_maps);
  Slab slab;
  if (TakeParkedSlab(slab)) return AddSlab(std::move(slab));
  slab.mapped_bytes = count * (kPageBytes + stack_bytes_);
  void* base = mmap(nullptr, slab.mapped_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return SyscallExhausted("mmap", slab.mapped_bytes, errno);
  slab.base = static_cast<char*>(base);
  absl::Status guarded = InstallGuards(slab);
  if (guarded.ok() && maps_ + slab.maps > options_.mapping_count_max) {
    guarded = over_budget(slab.maps);
  }
  if (!guarded.ok()) {
    munmap(slab.base, slab.mapped_bytes);
    return guarded;
  }
  slab.free.reserve(count);
  for (size_t i = count; i > 0; --i) slab.free.push_back({static_cast<uint32_t>(i - 1), false});
  return AddSlab(std::move(slab));
}

uint64_t StackPool::AddSlab(Slab slab) {
  maps_ += slab.maps;
  const uint64_t id = next_slab_id_++;
  slabs_.emplace(id, std::move(slab));
  slabs_with_free_.insert(id);
  ++empty_slabs_;
  return id;
}

StackSlabCache* StackPool::UsableCache() const {
  return options_.slab_cache != nullptr && StackSlabCache::AliveOnThisThread(options_.slab_cache)
             ? options_.slab_cache
             : nullptr;
}

bool StackPool::TakeParkedSlab(Slab& slab) {
  StackSlabCache* cache = UsableCache();
  if (cache == nullptr) return false;
  // The guards a fresh slab would get. Undecided until the kernel has accepted the advice once: a
  // sandbox that forbids it leaves the question open and gets mprotect'ed guards slab by slab.
  using Guards = StackSlabCache::Guards;
  const int support = g_page_table_guards.load();
  const Guards guards = options_.guard == Guard::kMprotect || support == kUnsupported
                            ? Guards::kMprotect
                            : (support == kSupported ? Guards::kPageTable : Guards::kEither);
  // MapSlab checked the budget for the guards it expects; the slab's own maps must fit too.
  if (!cache->Take(stack_bytes_, options_.slab_stack_count, guards,
                   options_.mapping_count_max - maps_, slab)) {
    return false;
  }
  page_table_guards_ = slab.page_table_guards;
  // The slab's kept memory joins this pool's, within this pool's cache bound.
  for (Slab::Free& f : slab.free) {
    if (!f.warm) continue;
    if (warm_free_ < options_.cached_max_count) {
      ++warm_free_;
    } else {
      const FiberStack stack = StackAt(0, slab, f.index);
      madvise(stack.bottom, stack.usable_bytes(), MADV_DONTNEED);
      f.warm = false;
    }
  }
  return true;
}

void StackPool::GiveUpSlab(Slab& slab) {
  if (StackSlabCache* cache = UsableCache()) {
    cache->Park({.slab = std::move(slab),
                 .stack_bytes = stack_bytes_,
                 .stack_count = options_.slab_stack_count});
    return;
  }
  munmap(slab.base, slab.mapped_bytes);
}

absl::StatusOr<FiberStack> StackPool::Allocate() {
  if (outstanding_ >= options_.stack_count_max) {
    return Exhausted(absl::StrCat("all ", options_.stack_count_max,
                                  " stacks of this scheduler are in use (stack_count_max)"));
  }
  if (slabs_with_free_.empty()) {
    absl::StatusOr<uint64_t> mapped = MapSlab();
    if (!mapped.ok()) return mapped.status();
  }
  const uint64_t id = *slabs_with_free_.begin();
  Slab& slab = slabs_.at(id);
  DRPC_CHECK(!slab.free.empty());
  const Slab::Free f = slab.free.back();
  if (slab.in_use == 0 && slab.abandoned == 0) --empty_slabs_;
  slab.free.pop_back();
  if (f.warm) --warm_free_;
  if (slab.free.empty()) slabs_with_free_.erase(id);
  ++slab.in_use;
  ++outstanding_;
  return StackAt(id, slab, f.index);
}

void StackPool::Release(FiberStack stack) {
  DRPC_CHECK_GT(outstanding_, 0u);
  auto it = slabs_.find(stack.slab);
  DRPC_CHECK(it != slabs_.end()) << "a stack from another pool";
  Slab& slab = it->second;
  DRPC_CHECK_GT(slab.in_use, 0u);
  --outstanding_;
  --slab.in_use;
  ClearShadow(stack);
  const bool warm = warm_free_ < options_.cached_max_count;
  if (warm) {
    ++warm_free_;
  } else {
    // Best effort: if the kernel refuses, the memory merely stays.
    madvise(stack.bottom, stack.usable_bytes(), MADV_DONTNEED);
  }
  slab.free.push_back({stack.index, warm});
  slabs_with_free_.insert(stack.slab);
  Trim(stack.slab, slab);
}

void StackPool::Trim(uint64_t id, Slab& slab) {
  if (slab.in_use > 0 || slab.abandoned > 0) return;
  // Keep one entirely free slab so a scheduler at a slab boundary does not map and unmap on
  // every spawn; unmap any other.
  if (empty_slabs_ > 0) {
    UnmapSlab(id);
  } else {
    ++empty_slabs_;
  }
}

void StackPool::UnmapSlab(uint64_t id) {
  auto it = slabs_.find(id);
  DRPC_CHECK(it != slabs_.end());
  Slab& slab = it->second;
  DRPC_CHECK_EQ(slab.in_use, 0u);
  DRPC_CHECK_EQ(slab.abandoned, 0u);
  for (const Slab::Free& f : slab.free) {
    if (f.warm) --warm_free_;
  }
  maps_ -= slab.maps;
  GiveUpSlab(slab);
  slabs_with_free_.erase(id);
  slabs_.erase(it);
}

void StackPool::Abandon(FiberStack stack) {
  DRPC_CHECK_GT(outstanding_, 0u);
  auto it = slabs_.find(stack.slab);
  DRPC_CHECK(it != slabs_.end()) << "a stack from another pool";
  DRPC_CHECK_GT(it->second.in_use, 0u);
  --outstanding_;
  --it->second.in_use;
  ++it->second.abandoned;
}

namespace {

// The StackSlabCaches alive on this thread, linked through next_alive_ (usually one: the
// simulator's). Trivially destructible, so a pool destroyed during this thread's exit, after the
// caches, still finds out that they are gone.
thread_local StackSlabCache* t_alive_caches = nullptr;

}  // namespace

StackSlabCache::StackSlabCache(size_t slab_count_max)
    : slab_count_max_(slab_count_max), next_alive_(t_alive_caches) {
  t_alive_caches = this;
}

StackSlabCache::~StackSlabCache() {
  StackSlabCache** link = &t_alive_caches;
  while (*link != nullptr && *link != this) link = &(*link)->next_alive_;
  DRPC_CHECK(*link == this) << "a stack slab cache destroyed on another thread than its own";
  *link = next_alive_;
  for (const Parked& p : parked_) munmap(p.slab.base, p.slab.mapped_bytes);
}

bool StackSlabCache::AliveOnThisThread(const StackSlabCache* cache) {
  for (const StackSlabCache* c = t_alive_caches; c != nullptr; c = c->next_alive_) {
    if (c == cache) return true;
  }
  return false;
}

void StackSlabCache::Park(Parked parked) {
  StackPool::Slab& slab = parked.slab;
  DRPC_CHECK_EQ(slab.in_use, 0u);
  DRPC_CHECK_EQ(slab.abandoned, 0u);
  DRPC_CHECK_EQ(slab.free.size(), parked.stack_count);
  if (slab_count_max_ == 0) {
    munmap(slab.base, slab.mapped_bytes);
    return;
  }
  if (parked_.size() >= slab_count_max_) {
    // The coldest slab goes: one of a geometry nobody asks for any more cannot hold a place.
    munmap(parked_.front().slab.base, parked_.front().slab.mapped_bytes);
    parked_.erase(parked_.begin());
  }
  // A fresh slab's order (index 0 handed out first), whatever order the stacks came back in.
  std::sort(slab.free.begin(), slab.free.end(),
            [](const StackPool::Slab::Free& a, const StackPool::Slab::Free& b) {
              return a.index > b.index;
            });
  parked_.push_back(std::move(parked));
}

bool StackSlabCache::Take(size_t stack_bytes, size_t stack_count, Guards guards, size_t maps_max,
                          StackPool::Slab& out) {
  for (size_t i = parked_.size(); i > 0; --i) {
    Parked& p = parked_[i - 1];
    const bool guards_fit = guards == Guards::kEither ||
                            p.slab.page_table_guards == (guards == Guards::kPageTable);
    if (p.stack_bytes != stack_bytes || p.stack_count != stack_count || !guards_fit ||
        p.slab.maps > maps_max) {
      continue;
    }
    out = std::move(p.slab);
    parked_.erase(parked_.begin() + static_cast<ptrdiff_t>(i - 1));
    return true;
  }
  return false;
}

}  // namespace drpc
