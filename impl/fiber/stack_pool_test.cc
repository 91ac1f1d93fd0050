#include "impl/fiber/stack_pool.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DRPC_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DRPC_TEST_SANITIZED 1
#endif
#if defined(__SANITIZE_THREAD__)
#define DRPC_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DRPC_TEST_TSAN 1
#endif
#endif

namespace drpc {
namespace {

// ThreadSanitizer maps shadow memory for each new mapping, so under it /proc/self/maps grows by
// more than what the pool mapped: the comparisons with the kernel's count hold only without it.
constexpr bool kKernelMapsAreThePools =
#if defined(DRPC_TEST_TSAN)
    false;
#else
    true;
#endif

size_t KernelMapCount() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return 0;
  size_t lines = 0;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) lines += c == '\n';
  std::fclose(f);
  return lines;
}

std::vector<FiberStack> TakeAll(StackPool& pool, size_t n) {
  std::vector<FiberStack> out;
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<FiberStack> s = pool.Allocate();
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) break;
    out.push_back(*s);
  }
  return out;
}

TEST(StackPoolTest, ASlabOfStacksCostsOneKernelMapWithPageTableGuards) {
  StackPool pool(StackPool::Options{.stack_bytes = 64 * 1024, .slab_stack_count = 64});
  const size_t before = KernelMapCount();
  std::vector<FiberStack> stacks = TakeAll(pool, 640);
  const size_t grown = KernelMapCount() - before;
  EXPECT_EQ(pool.slab_count(), 10u);
  // What the pool counts is what the kernel shows (an upper bound: neighbouring slabs may merge).
  if (kKernelMapsAreThePools) {
    EXPECT_LE(grown, pool.mapping_count());
  }
  if (pool.page_table_guards()) {
    EXPECT_EQ(pool.mapping_count(), 10u) << "one map per slab of 64 stacks";
  } else {
    EXPECT_EQ(pool.mapping_count(), 2u * 640) << "an mprotect'ed guard splits the mapping";
  }
  for (const FiberStack& s : stacks) pool.Release(s);
}

TEST(StackPoolTest, MprotectGuardsCostTwoMapsPerStack) {
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024,
                                    .slab_stack_count = 8,
                                    .guard = StackPool::Guard::kMprotect});
  const size_t before = KernelMapCount();
  std::vector<FiberStack> stacks = TakeAll(pool, 16);
  EXPECT_FALSE(pool.page_table_guards());
  EXPECT_EQ(pool.mapping_count(), 32u);
  if (kKernelMapsAreThePools) {
    EXPECT_LE(KernelMapCount() - before, 32u);
  }
  for (const FiberStack& s : stacks) pool.Release(s);
}

TEST(StackPoolTest, StackBudgetIsAStatusAndFreesUpOnRelease) {
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .stack_count_max = 3});
  std::vector<FiberStack> stacks = TakeAll(pool, 3);
  absl::StatusOr<FiberStack> over = pool.Allocate();
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("stack_count_max"), absl::string_view::npos)
      << over.status();
  pool.Release(stacks.back());
  stacks.pop_back();
  absl::StatusOr<FiberStack> again = pool.Allocate();
  ASSERT_TRUE(again.ok()) << again.status();
  stacks.push_back(*again);
  for (const FiberStack& s : stacks) pool.Release(s);
  EXPECT_EQ(pool.outstanding_count(), 0u);
}

TEST(StackPoolTest, MapBudgetIsAStatusNamingTheBudget) {
  // mprotect guards make the cost kernel-independent: a slab of 4 stacks is 8 maps.
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024,
                                    .slab_stack_count = 4,
                                    .mapping_count_max = 10,
                                    .guard = StackPool::Guard::kMprotect});
  std::vector<FiberStack> stacks = TakeAll(pool, 4);
  absl::StatusOr<FiberStack> over = pool.Allocate();
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("kernel maps"), absl::string_view::npos) << over.status();
  EXPECT_EQ(pool.mapping_count(), 8u);
  for (const FiberStack& s : stacks) pool.Release(s);
}

TEST(StackPoolTest, ReleasedStacksAreReusedAndOnlyOneFreeSlabStaysMapped) {
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 4});
  std::vector<FiberStack> stacks = TakeAll(pool, 12);
  EXPECT_EQ(pool.slab_count(), 3u);
  for (const FiberStack& s : stacks) pool.Release(s);
  EXPECT_EQ(pool.slab_count(), 1u);
  // The oldest slab with a free stack serves first, so a later burst reuses it.
  std::vector<FiberStack> again = TakeAll(pool, 4);
  EXPECT_EQ(pool.slab_count(), 1u);
  for (const FiberStack& s : again) pool.Release(s);
}

TEST(StackPoolTest, MemoryOfFreeStacksBeyondTheCacheIsGivenBack) {
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .cached_max_count = 0});
  FiberStack s = TakeAll(pool, 1).at(0);
  char* probe = static_cast<char*>(s.top) - 100;
  *probe = 42;
  pool.Release(s);
  EXPECT_EQ(pool.cached_count(), 0u);
  FiberStack again = TakeAll(pool, 1).at(0);
  ASSERT_EQ(again.top, s.top) << "the same stack comes back";
  EXPECT_EQ(*probe, 0) << "its memory was returned to the system (fresh zero page)";
  pool.Release(again);
}

TEST(StackPoolTest, AnAbandonedStackKeepsItsSlabMapped) {
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 2});
  std::vector<FiberStack> stacks = TakeAll(pool, 4);
  pool.Abandon(stacks[0]);
  for (size_t i = 1; i < stacks.size(); ++i) pool.Release(stacks[i]);
  EXPECT_EQ(pool.slab_count(), 2u) << "the abandoned stack's slab and one free slab";
  char* abandoned = static_cast<char*>(stacks[0].top) - 8;
  *abandoned = 1;  // still mapped and writable
  EXPECT_EQ(pool.outstanding_count(), 0u);
}

// A pool built and destroyed per run (the simulator's, per seed) hands its free slab to the next
// pool through the thread's cache: same stacks, guards and touched memory, no new mapping.
TEST(StackSlabCacheTest, AFreedSlabIsParkedAndTheNextPoolReusesIt) {
  StackSlabCache cache(2);
  const StackPool::Options options{.stack_bytes = 16 * 1024, .slab_stack_count = 4,
                                   .slab_cache = &cache};
  std::vector<FiberStack> first;
  size_t maps_first = 0;
  {
    StackPool pool(options);
    first = TakeAll(pool, 4);
    maps_first = pool.mapping_count();
    *(static_cast<char*>(first[0].top) - 100) = 42;
    // Released out of order: the next pool still starts at index 0.
    for (size_t i : {2, 0, 3, 1}) pool.Release(first[i]);
  }
  EXPECT_EQ(cache.slab_count(), 1u);
  const size_t maps_before = KernelMapCount();
  StackPool pool(options);
  std::vector<FiberStack> again = TakeAll(pool, 4);
  EXPECT_EQ(cache.slab_count(), 0u);
  if (kKernelMapsAreThePools) {
    EXPECT_EQ(KernelMapCount(), maps_before) << "nothing was mapped";
  }
  EXPECT_EQ(pool.mapping_count(), maps_first) << "budgets count a parked slab as a fresh one";
  for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i].top, first[i].top) << i;
  EXPECT_EQ(*(static_cast<char*>(again[0].top) - 100), 42) << "its memory was kept";
  for (const FiberStack& s : again) pool.Release(s);
}

TEST(StackSlabCacheTest, APoolTakesOnlyASlabOfItsOwnGeometry) {
  StackSlabCache cache(4);
  {
    StackPool parked(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 4,
                                        .slab_cache = &cache});
    std::vector<FiberStack> s = TakeAll(parked, 1);
    parked.Release(s[0]);
  }
  ASSERT_EQ(cache.slab_count(), 1u);
  const std::vector<StackPool::Options> others = {
      {.stack_bytes = 32 * 1024, .slab_stack_count = 4, .slab_cache = &cache},
      {.stack_bytes = 16 * 1024, .slab_stack_count = 8, .slab_cache = &cache},
  };
  size_t parked = 1;
  for (const StackPool::Options& o : others) {
    StackPool pool(o);
    std::vector<FiberStack> s = TakeAll(pool, 1);
    EXPECT_EQ(cache.slab_count(), parked) << "slabs of another geometry stay parked";
    pool.Release(s[0]);
    ++parked;  // this pool's own slab, on destruction
  }
  EXPECT_EQ(cache.slab_count(), 3u);
}

TEST(StackSlabCacheTest, MprotectGuardedPoolsAndPageTableGuardedPoolsDoNotShareSlabs) {
  StackSlabCache cache(4);
  bool page_table_guards = false;
  {
    StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 4,
                                      .slab_cache = &cache});
    std::vector<FiberStack> s = TakeAll(pool, 1);
    page_table_guards = pool.page_table_guards();
    pool.Release(s[0]);
  }
  if (!page_table_guards) GTEST_SKIP() << "this kernel has no page-table guards";
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 4,
                                    .guard = StackPool::Guard::kMprotect, .slab_cache = &cache});
  std::vector<FiberStack> s = TakeAll(pool, 1);
  EXPECT_EQ(cache.slab_count(), 1u);
  EXPECT_FALSE(pool.page_table_guards());
  EXPECT_EQ(pool.mapping_count(), 8u);
  pool.Release(s[0]);
}

TEST(StackSlabCacheTest, TheCacheKeepsAtMostItsBoundAndUnmapsTheRest) {
  StackSlabCache cache(1);
  const size_t maps_before = KernelMapCount();
  {
    // Three slabs: releasing them keeps one free slab in the pool and gives up the other two, and
    // destroying the pool gives up the last; each parked slab pushes the previous one out.
    StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 2,
                                      .guard = StackPool::Guard::kMprotect,
                                      .slab_cache = &cache});
    std::vector<FiberStack> stacks = TakeAll(pool, 6);
    for (const FiberStack& s : stacks) pool.Release(s);
    EXPECT_EQ(pool.slab_count(), 1u);
    EXPECT_EQ(cache.slab_count(), 1u);
  }
  EXPECT_EQ(cache.slab_count(), 1u);
  if (kKernelMapsAreThePools) {
    EXPECT_LE(KernelMapCount(), maps_before + 4) << "only the parked slab (4 maps) is left";
  }
}

TEST(StackSlabCacheTest, AFullCacheMakesRoomByUnmappingItsColdestSlab) {
  StackSlabCache cache(1);
  auto park_one = [&](size_t stack_bytes) {
    StackPool pool(StackPool::Options{.stack_bytes = stack_bytes, .slab_cache = &cache});
    pool.Release(TakeAll(pool, 1).at(0));
    return pool.stack_bytes();
  };
  park_one(16 * 1024);
  park_one(32 * 1024);  // a geometry nobody else asks for must not keep the 16 KiB slab out
  ASSERT_EQ(cache.slab_count(), 1u);
  StackPool small(StackPool::Options{.stack_bytes = 16 * 1024, .slab_cache = &cache});
  FiberStack s = TakeAll(small, 1).at(0);
  EXPECT_EQ(cache.slab_count(), 1u) << "the 16 KiB slab was unmapped: a fresh one was mapped";
  small.Release(s);
  StackPool large(StackPool::Options{.stack_bytes = 32 * 1024, .slab_cache = &cache});
  FiberStack l = TakeAll(large, 1).at(0);
  EXPECT_EQ(cache.slab_count(), 0u) << "the 32 KiB slab was kept";
  large.Release(l);
}

TEST(StackSlabCacheTest, StackSizesRoundedToTheSamePagesShareSlabs) {
  StackSlabCache cache(1);
  {
    StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024 + 1, .slab_cache = &cache});
    pool.Release(TakeAll(pool, 1).at(0));
  }
  StackPool pool(StackPool::Options{.stack_bytes = 20 * 1024, .slab_cache = &cache});
  FiberStack s = TakeAll(pool, 1).at(0);
  EXPECT_EQ(cache.slab_count(), 0u);
  pool.Release(s);
}

// A pool destroyed after its cache (say, a scheduler kept in a static object, destroyed after the
// thread's caches at exit) unmaps its slabs itself rather than touching the gone cache.
TEST(StackSlabCacheTest, APoolThatOutlivesItsCacheUnmapsItsSlabsItself) {
  const size_t maps_before = KernelMapCount();
  {
    auto cache = std::make_unique<StackSlabCache>(2);
    StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 2,
                                      .guard = StackPool::Guard::kMprotect,
                                      .slab_cache = cache.get()});
    pool.Release(TakeAll(pool, 1).at(0));
    cache.reset();
  }
  if (kKernelMapsAreThePools) {
    EXPECT_EQ(KernelMapCount(), maps_before) << "the pool's slab was unmapped";
  }
}

TEST(StackSlabCacheTest, KeptMemoryOfAParkedSlabStaysWithinTheTakingPoolsCache) {
  StackSlabCache cache(1);
  FiberStack first;
  {
    StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_cache = &cache});
    first = TakeAll(pool, 1).at(0);
    *(static_cast<char*>(first.top) - 100) = 42;
    pool.Release(first);
    EXPECT_EQ(pool.cached_count(), 1u);
  }
  StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .cached_max_count = 0,
                                    .slab_cache = &cache});
  FiberStack again = TakeAll(pool, 1).at(0);
  ASSERT_EQ(again.top, first.top) << "the parked slab was taken";
  EXPECT_EQ(pool.cached_count(), 0u);
  EXPECT_EQ(*(static_cast<char*>(again.top) - 100), 0) << "memory beyond the cache was given back";
  pool.Release(again);
}

void OverflowBelow(const FiberStack& s) {
  volatile char* below = static_cast<char*>(s.bottom) - 1;
  *below = 1;
}

TEST(StackPoolDeathTest, EveryStackOfASlabHasItsGuardPage) {
  for (StackPool::Guard guard : {StackPool::Guard::kAuto, StackPool::Guard::kMprotect}) {
    EXPECT_DEATH(
        {
          StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024, .slab_stack_count = 4,
                                            .guard = guard});
          std::vector<FiberStack> stacks = TakeAll(pool, 3);
          OverflowBelow(stacks[2]);  // a stack in the middle of the slab
        },
        "");
  }
}

// Returns (no death, so the test fails) when the second pool did not get the parked slab.
void OverflowAStackOfAParkedSlab(StackPool::Guard guard) {
  StackSlabCache cache(1);
  const StackPool::Options options{.stack_bytes = 16 * 1024, .slab_stack_count = 4,
                                   .guard = guard, .slab_cache = &cache};
  {
    StackPool first(options);
    first.Release(TakeAll(first, 1).at(0));
  }
  if (cache.slab_count() != 1) return;
  StackPool pool(options);
  std::vector<FiberStack> stacks = TakeAll(pool, 3);
  if (cache.slab_count() != 0) return;
  OverflowBelow(stacks[2]);
}

TEST(StackPoolDeathTest, AParkedSlabKeepsItsGuardPages) {
  for (StackPool::Guard guard : {StackPool::Guard::kAuto, StackPool::Guard::kMprotect}) {
    EXPECT_DEATH(OverflowAStackOfAParkedSlab(guard), "");
  }
}

// The crash of issue 13 finding 1: with a map per stack, ~32 k fibers exhausted the kernel's
// 65,530 maps and the next stack aborted the process. Running the kernel out of maps for real
// (in a child process) must end in a status.
TEST(StackPoolDeathTest, RunningTheKernelOutOfMapsIsAStatusNotACrash) {
#if defined(DRPC_TEST_SANITIZED)
  GTEST_SKIP() << "the sanitizers' own mappings fail first when the kernel's limit is reached";
#else
  EXPECT_EXIT(
      {
        StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024,
                                          .slab_stack_count = 1,
                                          .stack_count_max = 1 << 20,
                                          .mapping_count_max = 1 << 20,
                                          .guard = StackPool::Guard::kMprotect});
        for (size_t i = 0; i < (1u << 20); ++i) {
          absl::StatusOr<FiberStack> s = pool.Allocate();
          if (!s.ok()) {
            const bool exhausted = s.status().code() == absl::StatusCode::kResourceExhausted;
            std::fprintf(stderr, "after %zu stacks: %s\n", i, s.status().ToString().c_str());
            std::_Exit(exhausted && i > 1000 ? 0 : 1);
          }
        }
        std::_Exit(2);  // the kernel never ran out
      },
      ::testing::ExitedWithCode(0), "out of fiber stacks");
#endif
}

}  // namespace
}  // namespace drpc
