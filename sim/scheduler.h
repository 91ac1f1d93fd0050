// The simulator's runtime: a virtual clock with timers and a fiber scheduler on one OS thread,
// implementing Clock and Scheduler from impl/env.h. Every choice it makes comes from the decision
// tape, so a run is a pure function of its tape.
//
//   SimScheduler sched(decisions, trace, SimScheduler::Options{});
//   DRPC_CHECK_OK(sched.Spawn("main", [&] { ... }));
//   SimScheduler::Outcome o = sched.Run(time_limit, step_limit);
//
// Run loop: while any fiber is runnable, the SchedulingPolicy (sim/policy.h) picks one (a decision
// when more than one is runnable) and resumes it until it parks, yields or returns — unless the
// tape lets a pending timer in first (`sched.timer`, Options::timer_interleave_*): then that timer
// fires, and virtual time advances to its deadline if it lies ahead. When no fiber is runnable,
// virtual time advances to the earliest timer, ordered by (deadline, sequence number).
// The timers and each fiber's park/permit state are the production reactor's own code
// (impl/fiber/timer_queue.h, impl/fiber/fiber_state.h); this class adds the decisions around them
// (which fiber runs, timer lateness, spurious wake-ups) and virtual time.
#ifndef DRPC_SIM_SCHEDULER_H_
#define DRPC_SIM_SCHEDULER_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/config.h"
#include "absl/base/optimization.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/fiber/fiber_context.h"
#include "impl/fiber/fiber_state.h"
#include "impl/fiber/stack_pool.h"
#include "impl/fiber/timer_queue.h"
#include "impl/time.h"
#include "proto/base/check.h"
#include "sim/policy.h"
#include "sim/recorder.h"
#include "sim/tape.h"
#include "sim/trace.h"

namespace drpc::sim {

// Entirely free fiber stack slabs a thread keeps for its next run's scheduler (StackSlabCache): a
// sweep runs seed after seed on one thread. Four slabs of 64 stacks of 128 KiB (plus guard pages)
// map about 33 MiB, of which only the pages fibers touched stay resident.
inline constexpr size_t kStackSlabsParkedMaxCount = 4;
// Free stacks whose memory one run's scheduler keeps for its next fibers (StackPool's
// cached_max_count): more than a clean run's fibers, far fewer than a production reactor's.
inline constexpr size_t kStacksCachedMaxCount = 64;

class SimScheduler final : public Clock, public Scheduler {
 public:
  struct Options {
    size_t stack_bytes = 128 * 1024;
    // The fiber stack budget (impl/fiber/stack_pool.h): beyond it Spawn fails with
    // kResourceExhausted. Scenarios that test exhaustion make them small; guards are mprotect'ed
    // pages so that the map count does not depend on the kernel.
    size_t stack_count_max = StackPool::Options().stack_count_max;
    size_t mapping_count_max = StackPool::Options().mapping_count_max;
    StackPool::Guard stack_guard = StackPool::Guard::kAuto;
    // Upper bound on timer lateness drawn per timer (0: timers fire exactly on time). Real timers
    // fire late; jitter reorders timers against I/O and each other.
    Duration timer_jitter_max = Duration::Zero();
    // Chance (per mille) that a Park returns at once (a legal spurious wake-up).
    uint32_t spurious_wakeup_per_mille = 0;
    // Chance (per mille), at each scheduling point with runnable fibers and a timer due within
    // `timer_interleave_window` of the moment the longest-waiting runnable fiber became runnable,
    // that the timer fires before any fiber runs (time jumps to its deadline if it lies ahead:
    // the runnable fibers were slow to get the CPU, but never by more than the window, however
    // a policy orders them — a fiber a priority policy passes over does not watch seconds go by,
    // which no fair OS scheduler would allow). 0: timers fire only when no fiber is runnable. At most 999, so the answer 0 always keeps the fibers
    // first. Set from the run's PolicySpec.
    uint32_t timer_interleave_per_mille = 0;
    Duration timer_interleave_window = Duration::Zero();
  };

  enum class Outcome {
    kIdle,       // nothing runnable and no timer pending (a deadlock if fibers are still parked)
    kTimeLimit,  // the next event lies beyond the time limit
    kStepLimit,  // more fiber switches than allowed (a livelock)
    kAborted,    // Abort() was called (a failed run)
  };

  SimScheduler(DecisionSource& decisions, Trace& trace, Options options,
               std::unique_ptr<SchedulingPolicy> policy = std::make_unique<RandomWalkPolicy>());
  ~SimScheduler() override;  // abandons fibers that did not finish (see FiberContext)

  // Clock.
  Instant Now() const override { return now_; }
  // Inline: the network arms a delivery timer per segment directly (SimScheduler is final).
  TimerId ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) override;
  bool Cancel(TimerId id) override;
  // Stored as a plain timer (TimerQueue::AddPlain): the same deadline, lateness draws and id as
  // ScheduleAt, without an AnyInvocable to store, move and destroy (the network sets one per
  // delivered segment; a timed wait one per wait).
  TimerId ScheduleAtPlain(Instant deadline, PlainTimerCallback fn, void* context) override;

  // Scheduler.
  [[nodiscard]] absl::Status Spawn(std::string name, absl::AnyInvocable<void()> body) override;
  void Yield() override;
  void Park(absl::string_view reason) override { ParkInline(reason); }
  // Inline: the network wakes its readers and writers directly (SimScheduler is final).
  void Unpark(Fiber* fiber) override;
  Fiber* Current() override;

  // Park, inline, for the simulator's own waits (the network's readers and writers): after the
  // switch back every return up the call chain is mispredicted (the return predictions belong
  // to the scheduler's stack), so a frame less between the waiting code and its switch is
  // cheaper on every wake-up.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void ParkInline(absl::string_view reason);

  // Fibers and timers are also reported to `recorder` (null: not recorded).
  void set_recorder(Recorder* recorder) { recorder_ = recorder; }

  // Options may change during a run (scenarios draw them from the tape when they start).
  Options& options() { return options_; }

  // Runs fibers and fires timers until nothing is left to do, or a limit or Abort() ends the run.
  Outcome Run(Instant time_limit, uint64_t step_limit);

  // Keeps every unfinished fiber suspended for the life of the process (a failed run's objects
  // are never torn down); their stacks stay visible to LeakSanitizer. Call after Run() returned.
  void Freeze();

  // Ends Run() after the current fiber suspends. From a fiber, also suspends the caller for good.
  void Abort();

  // Stops `fiber` for good, as a crash stops a process's threads (sim/world's node crashes): it
  // never runs again, Unpark ignores it, and it is no longer live, parked or leaked. Its stack is
  // never unwound — its destructors would run over the state the crash left half-done — and stays
  // allocated for the life of the process (an abandoned FiberContext). `fiber` must be alive and
  // not killed; when it is the calling fiber, Kill does not return.
  void Kill(Fiber* fiber);

  struct ParkedFiber {
    uint64_t id;
    std::string name;
    std::string reason;
  };
  // Fibers alive but not runnable, in ID order, with their park reasons.
  std::vector<ParkedFiber> ParkedFibers() const;
  size_t live_fibers() const { return fibers_.size(); }
  size_t pending_timers() const { return timers_.size(); }

  struct Stats {
    uint64_t fibers_spawned = 0;
    uint64_t spawns_failed = 0;  // no stack: Spawn returned kResourceExhausted
    uint64_t switches = 0;
    uint64_t timers_fired = 0;
    uint64_t timers_interleaved = 0;  // fired ahead of runnable fibers (sched.timer)
    uint64_t fibers_killed = 0;
  };
  const Stats& stats() const { return stats_; }
  // Stack slabs this thread keeps for its next scheduler (for tests and stats).
  static size_t ParkedStackSlabCount();

 private:
  class SimFiber;
  void RunFiber(SimFiber* fiber);
  void OnFinished(SimFiber* fiber);  // a fiber's body returned
  void FireNextTimer();
  // What firing a timer does before its callback runs: time, stats, trace, recorder.
  void OnTimerFired(Instant deadline, TimerId id);
  // `deadline` as the timer queue gets it: not in the past, late by the tape's draw.
  Instant TimerDeadline(Instant deadline);
  // `deadline` made late by the tape (`timer.late`, `timer.jitter`), for a run with jitter.
  Instant DrawLateness(Instant deadline);
  // True if a pending timer was let in ahead of the runnable fibers (and fired). Its cheap
  // checks are inline (Run asks at every scheduling point); the decision is not.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool InterleaveTimer(Instant time_limit);
  bool ChooseInterleave();
  void MakeRunnable(SimFiber* fiber);
  // The live fiber `id` in fibers_, or fibers_.end().
  std::vector<std::unique_ptr<SimFiber>>::iterator FindFiber(uint64_t id);

  static constexpr size_t kSpareFibersMaxCount = 64;

  DecisionSource* decisions_;
  Trace* trace_;
  Options options_;
  std::unique_ptr<SchedulingPolicy> policy_;
  StackPool stacks_;
  Instant now_;
  uint64_t next_fiber_id_ = 1;
  // Live fibers in ID order (IDs only grow, so a new one is appended): reports and teardown are
  // deterministic.
  std::vector<std::unique_ptr<SimFiber>> fibers_;
  // Records of finished fibers, reused by Spawn (their contexts are gone, their stacks back in
  // the pool); none under AddressSanitizer, so a use of a finished fiber stays a use after free.
  std::vector<std::unique_ptr<SimFiber>> spare_fibers_;
  std::vector<std::unique_ptr<SimFiber>> killed_;  // never resumed; abandoned at destruction
  // A runnable fiber and when it became runnable.
  struct Runnable {
    SimFiber* fiber;
    Instant since;
  };
  // Runnable fibers in the order they became runnable. Its storage only grows, out of line, so
  // adding a fiber is two stores: Unpark, which the network and impl/ call on every wake-up,
  // stays a leaf function with no registers to save (a vector's push_back carries its
  // reallocation inline, and with it a full frame).
  class RunQueue {
   public:
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    const Runnable& operator[](size_t i) const { return items_[i]; }
    const Runnable& front() const { return items_[0]; }
    void push_back(Runnable r) {
      if (ABSL_PREDICT_FALSE(size_ == items_.size())) Grow();
      items_[size_++] = r;
    }
    // Removes the entry at `i`; those behind it move up, keeping their order.
    void erase(size_t i) {
      DRPC_DCHECK_LT(i, size_);
      std::copy(items_.begin() + static_cast<ptrdiff_t>(i + 1),
                items_.begin() + static_cast<ptrdiff_t>(size_),
                items_.begin() + static_cast<ptrdiff_t>(i));
      --size_;
    }
    // The position of `fiber`, or size() if it is not queued.
    size_t Find(const SimFiber* fiber) const {
      size_t i = 0;
      while (i < size_ && items_[i].fiber != fiber) ++i;
      return i;
    }

   private:
    ABSL_ATTRIBUTE_NOINLINE void Grow() { items_.resize(std::max<size_t>(8, 2 * items_.size())); }
    std::vector<Runnable> items_;  // its size is the capacity; the first size_ are queued
    size_t size_ = 0;
  };
  RunQueue runnable_;
  // Their IDs (what policies see), filled only when a policy is asked: most scheduling points
  // have one runnable fiber and no choice.
  std::vector<uint64_t> runnable_ids_;
  SimFiber* current_ = nullptr;
  TimerQueue timers_;
  bool aborted_ = false;
  Stats stats_;
  Recorder* recorder_ = nullptr;
};

class SimScheduler::SimFiber final : public Fiber {
 public:
  SimFiber(uint64_t id, std::string name, StackPool& pool, FiberStack stack,
           absl::AnyInvocable<void()> body)
      : id_(id), name_(std::move(name)) {
    context_.emplace(pool, stack, std::move(body));
  }

  // A finished fiber's record made a new fiber (as if newly constructed).
  void Reuse(uint64_t id, std::string name, StackPool& pool, FiberStack stack,
             absl::AnyInvocable<void()> body) {
    DRPC_DCHECK(!context_.has_value());
    id_ = id;
    name_ = std::move(name);
    context_.emplace(pool, stack, std::move(body));
    state_ = FiberState();
    killed_ = false;
  }

  absl::string_view name() const override { return name_; }

  uint64_t id_;
  std::string name_;
  std::optional<FiberContext> context_;  // empty once the fiber finished (a spare record)
  FiberState state_;
  bool killed_ = false;
};

inline Fiber* SimScheduler::Current() { return current_; }

inline Instant SimScheduler::TimerDeadline(Instant deadline) {
  if (deadline < now_) deadline = now_;
  if (options_.timer_jitter_max > Duration::Zero() && !deadline.is_infinite()) {
    deadline = DrawLateness(deadline);
  }
  return deadline;
}

inline TimerId SimScheduler::ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) {
  return timers_.Add(TimerDeadline(deadline), std::move(callback));
}

inline TimerId SimScheduler::ScheduleAtPlain(Instant deadline, PlainTimerCallback fn,
                                             void* context) {
  return timers_.AddPlain(TimerDeadline(deadline), fn, context);
}

inline void SimScheduler::MakeRunnable(SimFiber* fiber) { runnable_.push_back({fiber, now_}); }

inline void SimScheduler::Unpark(Fiber* fiber) {
  DRPC_CHECK_COLD(fiber != nullptr, [](std::ostream& os) { os << "Unpark(nullptr)"; });
  auto* f = static_cast<SimFiber*>(fiber);
  if (f->killed_) return;
  if (f->state_.Unpark()) {
    MakeRunnable(f);
    if (recorder_ != nullptr) recorder_->Unpark(now_, f->id_);
  }
}

inline void SimScheduler::ParkInline(absl::string_view reason) {
  SimFiber* self = current_;
  DRPC_CHECK(self != nullptr) << "Park outside a fiber: " << reason;
  if (self->state_.TakePermit()) return;
  if (ChooseChance(*decisions_, "sched.spurious", options_.spurious_wakeup_per_mille)) {
    Yield();  // Comes back without an Unpark: a spurious wake-up, which callers must tolerate.
    return;
  }
  self->state_.Park(reason);
  if (recorder_ != nullptr) recorder_->Park(now_, self->id_, reason);
  self->context_->Suspend();
  self->state_.Unparked();
}

}  // namespace drpc::sim

#endif  // DRPC_SIM_SCHEDULER_H_
