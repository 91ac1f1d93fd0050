#include "impl/fiber/fiber_context.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include "impl/fiber/stack_pool.h"

namespace drpc {
namespace {

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DRPC_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DRPC_TEST_ASAN 1
#endif

// Tests allocate within every budget: a failure here is a broken pool, reported with its status.
FiberStack Take(StackPool& pool) {
  absl::StatusOr<FiberStack> s = pool.Allocate();
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(FiberContextTest, BodyRunsUntilSuspendAndContinuesOnResume) {
  StackPool pool(StackPool::Options{});
  std::vector<std::string> log;
  FiberContext* self = nullptr;
  FiberContext f(pool, Take(pool), [&] {
    log.push_back("a");
    self->Suspend();
    log.push_back("b");
    self->Suspend();
    log.push_back("c");
  });
  self = &f;
  EXPECT_FALSE(f.started());
  f.Resume();
  EXPECT_EQ(log, (std::vector<std::string>{"a"}));
  f.Resume();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(f.finished());
  f.Resume();
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(FiberContextTest, FinishedFibersReturnTheirStacksToThePool) {
  StackPool pool(StackPool::Options{.stack_bytes = 64 * 1024, .cached_max_count = 4});
  for (int i = 0; i < 100; ++i) {
    FiberContext f(pool, Take(pool), [] {});
    f.Resume();
    EXPECT_TRUE(f.finished());
  }
  EXPECT_EQ(pool.outstanding_count(), 0u);
  EXPECT_EQ(pool.cached_count(), 1u);  // one stack, reused a hundred times
}

// Resident pages of [lo, hi) (mincore).
size_t ResidentPages(void* lo, void* hi) {
  constexpr uintptr_t kPage = 4096;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(lo) & ~(kPage - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(hi);
  std::vector<unsigned char> pages((end - begin + kPage - 1) / kPage);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, pages.data()) != 0) return 0;
  size_t n = 0;
  for (unsigned char p : pages) n += p & 1;
  return n;
}

// Touches `bytes` of stack below the caller, keeping the compiler from eliding the array.
size_t __attribute__((noinline)) TouchStack(size_t bytes) {
  volatile char scratch[64 * 1024];
  for (size_t i = 0; i < bytes && i < sizeof(scratch); i += 512) scratch[i] = static_cast<char>(i);
  return scratch[0] + scratch[bytes / 2];
}

TEST(FiberContextTest, ASuspendedFiberGivesBackTheStackBelowItAndKeepsItsFrames) {
  StackPool pool(StackPool::Options{.stack_bytes = 256 * 1024});
  const FiberStack stack = Take(pool);
  FiberContext* self = nullptr;
  std::string kept;
  FiberContext f(pool, stack, [&] {
    const std::string local(100, 'k');  // lives across the suspension
    TouchStack(60 * 1024);              // a deep call, returned from before waiting
    self->Suspend();
    kept = local;
    TouchStack(60 * 1024);  // the released pages come back as zeros on use
  });
  self = &f;
  EXPECT_EQ(f.ReleaseStackBelowSuspension(), 0u);  // not started
  f.Resume();
  const size_t resident_before = ResidentPages(stack.bottom, stack.top);
  const size_t released = f.ReleaseStackBelowSuspension();
  const size_t resident_after = ResidentPages(stack.bottom, stack.top);
#if !defined(DRPC_TEST_ASAN)  // AddressSanitizer may keep frames on its fake stacks instead
  EXPECT_GE(released, 48u * 1024);
  EXPECT_GE(resident_before, resident_after + 12);
  EXPECT_LE(resident_after, 4u);
#else
  (void)released;
  (void)resident_before;
  (void)resident_after;
#endif
  f.Resume();
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(kept, std::string(100, 'k'));
  EXPECT_EQ(f.ReleaseStackBelowSuspension(), 0u);  // finished
}

// Suspends `depth` bytes below its caller's frame, with bytes of its own frame and of the padding
// alive across the suspension; records where its frame is.
void __attribute__((noinline)) SuspendAtDepth(FiberContext* self, size_t depth, uintptr_t* frame,
                                              std::string* out) {
  volatile char* pad = static_cast<volatile char*>(__builtin_alloca(depth + 1));
  pad[0] = 'p';
  char mark[32];
  std::memset(mark, 'm', sizeof(mark));
  *frame = reinterpret_cast<uintptr_t>(&mark[0]);
  self->Suspend();
  *out = std::string(mark, sizeof(mark)) + static_cast<char>(pad[0]);
}

// The trim keeps the pages from the fiber's saved stack pointer up, not a whole page below the
// one it waits in: wherever in a page a fiber waits (32 depths), a page below that was touched
// earlier is given back unless the switch's own frames reach into it, and the fiber resumes with
// its frames intact.
TEST(FiberContextTest, TheTrimKeepsNoTouchedPageBelowTheWaitingFramesPage) {
  constexpr uintptr_t kPage = 4096;
  StackPool pool(StackPool::Options{.stack_bytes = 256 * 1024});
  int nothing_below = 0;
  for (size_t depth = 0; depth < kPage; depth += kPage / 32) {
    const FiberStack stack = Take(pool);
    FiberContext* self = nullptr;
    uintptr_t frame = 0;
    std::string kept;
    FiberContext f(pool, stack, [&] {
      TouchStack(60 * 1024);  // a deep call, returned from before waiting
      SuspendAtDepth(self, depth, &frame, &kept);
    });
    self = &f;
    f.Resume();
    f.ReleaseStackBelowSuspension();
    const size_t resident = ResidentPages(stack.bottom, stack.top);
    const uintptr_t top = reinterpret_cast<uintptr_t>(stack.top);
    if (resident <= (top - (frame & ~(kPage - 1))) / kPage) ++nothing_below;
    f.Resume();
    ASSERT_TRUE(f.finished());
    EXPECT_EQ(kept, std::string(32, 'm') + "p") << "depth " << depth;
  }
#if !defined(DRPC_TEST_ASAN)  // AddressSanitizer may keep frames on its fake stacks instead
  EXPECT_GE(nothing_below, 16) << "of 32 depths";
#endif
}


// Found by the tape fuzzer: scope poison a fiber's last frames leave in the shadow of its stack
// outlived the stack, and tripped the next user of the memory (a cached stack, or a later mmap).
TEST(StackPoolTest, AReleasedStackComesBackWithoutStalePoison) {
#if defined(DRPC_TEST_ASAN)
  StackPool pool(StackPool::Options{.stack_bytes = 64 * 1024, .cached_max_count = 1});
  FiberStack s = Take(pool);
  char* probe = static_cast<char*>(s.top) - 256;
  __asan_poison_memory_region(probe, 64);
  ASSERT_TRUE(__asan_address_is_poisoned(probe));
  pool.Release(s);
  FiberStack again = Take(pool);
  EXPECT_EQ(again.top, s.top) << "the cached stack is reused";
  EXPECT_FALSE(__asan_address_is_poisoned(probe));
  pool.Release(again);
#else
  GTEST_SKIP() << "meaningful under --config=asan only";
#endif
}

TEST(FiberContextTest, NeverStartedFiberReleasesItsStackWithoutRunning) {
  StackPool pool(StackPool::Options{});
  bool ran = false;
  {
    FiberContext f(pool, Take(pool), [&] { ran = true; });
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(pool.outstanding_count(), 0u);
}

TEST(FiberContextTest, SuspendedFiberIsAbandonedNotUnwound) {
  StackPool pool(StackPool::Options{});
  struct Sentinel {
    bool* destroyed;
    ~Sentinel() { *destroyed = true; }
  };
  bool destroyed = false;
  const size_t abandoned_before = FiberContext::abandoned_count();
  {
    FiberContext* self = nullptr;
    auto f = std::make_unique<FiberContext>(pool, Take(pool), [&] {
      Sentinel s{&destroyed};
      self->Suspend();
    });
    self = f.get();
    f->Resume();
  }
  // The fiber's locals were never destroyed: a failed run's half-finished state is not torn down.
  EXPECT_FALSE(destroyed);
  EXPECT_EQ(FiberContext::abandoned_count(), abandoned_before + 1);
  EXPECT_EQ(pool.outstanding_count(), 0u);
}

TEST(FiberContextTest, ManyFibersInterleave) {
  StackPool pool(StackPool::Options{.stack_bytes = 32 * 1024, .cached_max_count = 1000});
  constexpr int kFibers = 1000;
  constexpr int kSwitches = 10;
  std::vector<std::unique_ptr<FiberContext>> fibers;
  std::vector<FiberContext*> selves(kFibers);
  long total = 0;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(std::make_unique<FiberContext>(pool, Take(pool), [&, i] {
      for (int k = 0; k < kSwitches; ++k) {
        ++total;
        selves[i]->Suspend();
      }
    }));
    selves[i] = fibers.back().get();
  }
  for (int round = 0; round <= kSwitches; ++round) {
    for (auto& f : fibers) {
      if (!f->finished()) f->Resume();
    }
  }
  for (auto& f : fibers) EXPECT_TRUE(f->finished());
  EXPECT_EQ(total, kFibers * kSwitches);
}

TEST(FiberContextDeathTest, StackOverflowHitsTheGuardPage) {
  EXPECT_DEATH(
      {
        StackPool pool(StackPool::Options{.stack_bytes = 16 * 1024});
        FiberContext f(pool, Take(pool), [] {
          volatile char big[64 * 1024];
          big[0] = 1;
          big[sizeof(big) - 1] = 2;
        });
        f.Resume();
      },
      "");
}

}  // namespace
}  // namespace drpc
