// One fiber's execution context: a stack from a StackPool and a boost.context switch, with the
// stack switches announced to AddressSanitizer and ThreadSanitizer when they are active.
//
// A FiberContext is driven by a loop (a scheduler) on one OS thread:
//   absl::StatusOr<FiberStack> stack = pool.Allocate();   // may fail: the spawn fails
//   if (!stack.ok()) return stack.status();
//   FiberContext f(pool, *stack, [] { ...; FiberContext::... ->Suspend(); ... });
//   f.Resume();            // runs until the body calls Suspend() or returns
//   while (!f.finished()) f.Resume();
//
// Schedulers (sim/, impl/runtime/) build Park/Yield on Suspend and Unpark on Resume. This class
// knows nothing about run queues, time or names.
#ifndef DRPC_IMPL_FIBER_FIBER_CONTEXT_H_
#define DRPC_IMPL_FIBER_FIBER_CONTEXT_H_

#include <cstddef>
#include <cstdint>

#include <boost/context/fiber.hpp>

#include "absl/base/config.h"
#include "absl/functional/any_invocable.h"
#include "impl/fiber/stack_pool.h"
#include "proto/base/check.h"

// Builds whose fiber switches the sanitizers must hear of (fiber_context.cc checks that it agrees).
#if defined(ABSL_HAVE_ADDRESS_SANITIZER) || defined(ABSL_HAVE_THREAD_SANITIZER)
#define DRPC_FIBER_SWITCH_HOOKS 1
#endif

namespace drpc {

class FiberContext {
 public:
  // The body runs on `stack` (allocated from `pool`, which gets it back) at the first Resume(). It
  // must not let exceptions escape (drpc-cpp reports errors with absl::Status); an escaping
  // exception aborts the process.
  FiberContext(StackPool& pool, FiberStack stack, absl::AnyInvocable<void()> body);

  // A finished or never-started fiber releases its stack to the pool. A fiber suspended in the
  // middle of its body is *abandoned*: its stack is never unwound (its destructors could touch
  // objects that are gone or assert on half-torn-down state) and never reused; the memory stays
  // mapped and is registered with LeakSanitizer as a root, so what it references is not reported.
  // Schedulers abandon fibers only when a run has already failed.
  ~FiberContext();

  FiberContext(const FiberContext&) = delete;
  FiberContext& operator=(const FiberContext&) = delete;

  // Switches from the loop into the fiber until it suspends or finishes. Requires !finished() and
  // that the fiber is not running.
  // Inline, as is Suspend: after a switch every return up the call chain is mispredicted (the
  // CPU's return predictions belong to the other stack), so each frame between a scheduler and
  // the switch costs on every switch.
  void Resume() {
    DRPC_CHECK(!finished_) << "resuming a finished fiber";
    DRPC_CHECK(!running_) << "resuming a running fiber";
    started_ = true;
    running_ = true;
    BeforeSwitchIn();
    fiber_ = std::move(fiber_).resume();
    AfterSwitchOut();
    running_ = false;
  }

  // Switches from inside this fiber back to the loop that resumed it.
  void Suspend() {
    DRPC_CHECK(running_) << "suspending a fiber that is not running";
    char here = 0;
    suspended_at_ = &here;
    BeforeSwitchOut(/*finishing=*/false);
    caller_ = std::move(caller_).resume();
    AfterSwitchIn();
  }

  // Memory: gives the kernel back the pages of a suspended fiber's stack below where it is
  // suspended (deeper calls it made earlier, e.g. while handling a call, left them resident), so
  // a fiber that waits a long time costs only the pages it is using: from the page holding its
  // saved stack pointer up. They read as zeros if the
  // fiber grows into them again. Returns the bytes released (0 for a running, finished or
  // unstarted fiber, or if the kernel refused).
  size_t ReleaseStackBelowSuspension();

  // Marks a suspended fiber as kept for the life of the process (a failed simulation run is
  // frozen, not torn down): under LeakSanitizer its stack becomes a root region, so objects it
  // references are not reported as leaks. Idempotent; no-op for finished or unstarted fibers.
  void Freeze();

  bool finished() const { return finished_; }
  bool started() const { return started_; }
  bool running() const { return running_; }

  // Fibers abandoned by this process so far (for leak reports and tests).
  static size_t abandoned_count();

 private:
  boost::context::fiber Entry(boost::context::fiber&& caller);
  // While suspended: the lowest address of the stack the fiber uses (its saved stack pointer).
  uintptr_t SuspendedStackLow() const;
  // Announce each switch to the sanitizers. A plain build has nothing to announce: the hooks are
  // empty and inline there, since an empty call on both sides of every switch still costs (its
  // caller saves registers around it).
#if defined(DRPC_FIBER_SWITCH_HOOKS)
  void BeforeSwitchIn();
  void AfterSwitchIn();
  void BeforeSwitchOut(bool finishing);
  void AfterSwitchOut();
#else
  void BeforeSwitchIn() {}
  void AfterSwitchIn() {}
  void BeforeSwitchOut(bool /*finishing*/) {}
  void AfterSwitchOut() {}
#endif

  StackPool* pool_;
  FiberStack stack_;
  absl::AnyInvocable<void()> body_;
  boost::context::fiber fiber_;   // the suspended fiber, while the loop runs
  boost::context::fiber caller_;  // the suspended loop, while the fiber runs
  bool started_ = false;
  bool running_ = false;
  bool finished_ = false;
  bool frozen_ = false;
  // An address in Suspend's frame at the last suspension: the fiber's live stack is above it.
  char* suspended_at_ = nullptr;

  // Sanitizer bookkeeping (unused in plain builds, which clang's -Wunused-private-field notices).
  [[maybe_unused]] void* asan_fiber_fake_stack_ = nullptr;
  [[maybe_unused]] void* asan_loop_fake_stack_ = nullptr;
  [[maybe_unused]] const void* asan_loop_bottom_ = nullptr;
  [[maybe_unused]] size_t asan_loop_size_ = 0;
  [[maybe_unused]] void* tsan_fiber_ = nullptr;
  [[maybe_unused]] void* tsan_loop_ = nullptr;
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIBER_FIBER_CONTEXT_H_
