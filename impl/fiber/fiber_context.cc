#include "impl/fiber/fiber_context.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>

#include "proto/base/check.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DRPC_FIBER_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define DRPC_FIBER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DRPC_FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define DRPC_FIBER_TSAN 1
#endif

#if (defined(DRPC_FIBER_ASAN) || defined(DRPC_FIBER_TSAN)) && !defined(DRPC_FIBER_SWITCH_HOOKS)
#error "a sanitizer build without the fiber switch hooks (fiber_context.h)"
#endif

#if defined(DRPC_FIBER_ASAN)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif
#if defined(DRPC_FIBER_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace drpc {
namespace {

// Stacks are released in whole pages (x86-64 and arm64 Linux's base page).
constexpr uintptr_t kStackTrimPageBytes = 4096;
// Kept below a suspended fiber's saved stack pointer: more than the x86-64 red zone (128 bytes).
constexpr uintptr_t kStackTrimMarginBytes = 256;

// Atomic: production reactors tear down (and may abandon fibers) on several threads at once.
std::atomic<size_t> g_abandoned{0};

// Hands the preallocated stack back to the pool when boost.context destroys a finished fiber.
// boost calls deallocate() from the loop's stack, after the final switch out of the fiber.
struct PoolStackAllocator {
  StackPool* pool;
  FiberStack stack;
  boost::context::stack_context allocate() {
    DRPC_CHECK(false) << "fiber stacks are always preallocated";
    return {};
  }
  void deallocate(boost::context::stack_context&) noexcept { pool->Release(stack); }
};

}  // namespace

size_t FiberContext::abandoned_count() { return g_abandoned.load(); }

FiberContext::FiberContext(StackPool& pool, FiberStack stack, absl::AnyInvocable<void()> body)
    : pool_(&pool), stack_(stack), body_(std::move(body)) {
  DRPC_CHECK(stack_.top != nullptr) << "a fiber needs an allocated stack";
  boost::context::stack_context sctx;
  sctx.size = stack_.usable_bytes();
  sctx.sp = stack_.top;
  boost::context::preallocated palloc(stack_.top, stack_.usable_bytes(), sctx);
  fiber_ = boost::context::fiber(
      std::allocator_arg, palloc, PoolStackAllocator{pool_, stack_},
      [this](boost::context::fiber&& caller) { return Entry(std::move(caller)); });
#if defined(DRPC_FIBER_TSAN)
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

void FiberContext::Freeze() {
  if (!started_ || finished_ || frozen_) return;
  frozen_ = true;
#if defined(DRPC_FIBER_ASAN)
  __lsan_register_root_region(stack_.bottom, stack_.usable_bytes());
#endif
}

FiberContext::~FiberContext() {
  DRPC_CHECK(!running_) << "a fiber cannot destroy its own context";
  if (started_ && !finished_) {
    // Abandon: keep the suspended context alive for ever (never unwound, never resumed).
    ++g_abandoned;
    new boost::context::fiber(std::move(fiber_));
    pool_->Abandon(stack_);
    Freeze();
  }
  // Not started: destroying the boost fiber unwinds an empty stack and releases it to the pool.
  // Finished: boost already released the stack.
  fiber_ = boost::context::fiber();
#if defined(DRPC_FIBER_TSAN)
  if (!started_ || finished_) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

uintptr_t FiberContext::SuspendedStackLow() const {
  // boost.context's fcontext fiber is one pointer: the suspended side's stack pointer after the
  // switch pushed its registers — the lowest byte of the stack the fiber still uses.
  static_assert(sizeof(boost::context::fiber) == sizeof(void*));
  uintptr_t sp = 0;
  std::memcpy(&sp, static_cast<const void*>(&fiber_), sizeof(sp));
  return sp;
}

size_t FiberContext::ReleaseStackBelowSuspension() {
  if (!started_ || running_ || finished_ || suspended_at_ == nullptr) return 0;
  const uintptr_t page = kStackTrimPageBytes;
  const uintptr_t at = reinterpret_cast<uintptr_t>(suspended_at_);
  const uintptr_t bottom = reinterpret_cast<uintptr_t>(stack_.bottom);
  // Under AddressSanitizer Suspend's frame may live on a fake stack: nothing is known then.
  if (at <= bottom || at >= reinterpret_cast<uintptr_t>(stack_.top)) return 0;
  // Keep from the page holding the saved stack pointer up, with a margin for the red zone. A
  // saved pointer out of place (another boost.context back end) falls back to keeping a whole
  // page under the page holding `suspended_at_`, room for the switch's frames.
  const uintptr_t sp = SuspendedStackLow();
  const uintptr_t low =
      (sp > bottom + kStackTrimMarginBytes && sp <= at) ? sp - kStackTrimMarginBytes : at - page;
  const uintptr_t end = low & ~(page - 1);
  if (end <= bottom) return 0;
  if (madvise(stack_.bottom, end - bottom, MADV_DONTNEED) != 0) return 0;
  return end - bottom;
}

boost::context::fiber FiberContext::Entry(boost::context::fiber&& caller) {
  caller_ = std::move(caller);
  AfterSwitchIn();
  try {
    body_();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fatal: exception escaped a fiber body: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fatal: exception escaped a fiber body\n");
    std::abort();
  }
  // Destroy the body's captures on the fiber's stack, while the fiber can still run code.
  body_ = nullptr;
  finished_ = true;
  BeforeSwitchOut(/*finishing=*/true);
  return std::move(caller_);
}

// --- Sanitizer announcements --------------------------------------------------------------------
// ASan must know which stack is current (or it reports false stack overflows and corrupts its
// fake-stack bookkeeping); TSan must know which logical thread of execution is running.

#if defined(DRPC_FIBER_SWITCH_HOOKS)
void FiberContext::BeforeSwitchIn() {
#if defined(DRPC_FIBER_ASAN)
  __sanitizer_start_switch_fiber(&asan_loop_fake_stack_, stack_.bottom, stack_.usable_bytes());
#endif
#if defined(DRPC_FIBER_TSAN)
  tsan_loop_ = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
}

void FiberContext::AfterSwitchIn() {
#if defined(DRPC_FIBER_ASAN)
  __sanitizer_finish_switch_fiber(asan_fiber_fake_stack_, &asan_loop_bottom_, &asan_loop_size_);
#endif
}

void FiberContext::BeforeSwitchOut(bool finishing) {
#if defined(DRPC_FIBER_ASAN)
  // A null save slot tells ASan this fiber's fake stack can be freed.
  __sanitizer_start_switch_fiber(finishing ? nullptr : &asan_fiber_fake_stack_, asan_loop_bottom_,
                                 asan_loop_size_);
#else
  (void)finishing;
#endif
#if defined(DRPC_FIBER_TSAN)
  __tsan_switch_to_fiber(tsan_loop_, 0);
#endif
}

void FiberContext::AfterSwitchOut() {
#if defined(DRPC_FIBER_ASAN)
  __sanitizer_finish_switch_fiber(asan_loop_fake_stack_, nullptr, nullptr);
#endif
}
#endif  // DRPC_FIBER_SWITCH_HOOKS

}  // namespace drpc
