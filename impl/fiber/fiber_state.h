// The park/permit/unpark state machine of one fiber, shared by both schedulers: the simulator
// (sim/scheduler.h) and each production reactor (impl/runtime/reactor.h) keep one FiberState per
// fiber and drive it through the transitions below, so the Park/Unpark semantics of impl/env.h
// that the simulator explores are the ones production executes. The scheduler owns the run queue
// and the context switch (FiberContext); this class owns what may happen in which state.
//
//   // Park(reason), on the fiber:            // Unpark(fiber), anywhere on the thread:
//   if (state.TakePermit()) return;            if (state.Unpark()) run_queue.push_back(fiber);
//   state.Park(reason);
//   context.Suspend();                         // Running it:
//   state.Unparked();                          state.Resume(); context.Resume();
//
//   kRunnable --Resume--> kRunning --Yield--> kRunnable
//   kRunning --Park--> kParked --Unpark--> kRunnable
//   Unpark of a kRunning or kRunnable fiber leaves a permit: its next Park returns at once, so an
//   Unpark that races ahead of the Park it answers is never lost. At most one permit is kept.
//   kAbandoned (a fiber stopped for good by a failed simulation run) ignores Unpark.
// Illegal transitions are our own bugs and fail a DRPC_CHECK. Not thread-safe: one scheduler
// thread.
#ifndef DRPC_IMPL_FIBER_FIBER_STATE_H_
#define DRPC_IMPL_FIBER_FIBER_STATE_H_

#include "absl/strings/string_view.h"
#include "proto/base/check.h"

namespace drpc {

class FiberState {
 public:
  enum class Phase { kRunnable, kRunning, kParked, kAbandoned };

  // A new fiber is runnable.
  FiberState() = default;

  Phase phase() const { return phase_; }
  bool runnable() const { return phase_ == Phase::kRunnable; }
  bool running() const { return phase_ == Phase::kRunning; }
  bool parked() const { return phase_ == Phase::kParked; }
  bool abandoned() const { return phase_ == Phase::kAbandoned; }
  bool has_permit() const { return permit_; }
  // Why the fiber is parked ("waiting for stream 3 window"); empty unless parked. The text is
  // the caller's and lives until Park returns (impl/env.h).
  absl::string_view park_reason() const { return reason_; }

  // The scheduler is about to switch into the fiber.
  void Resume() {
    DRPC_CHECK(phase_ == Phase::kRunnable) << "resuming a fiber that is not runnable: " << Name();
    phase_ = Phase::kRunning;
  }

  // The running fiber stays runnable but lets others run (the scheduler queues it again).
  void Yield() {
    DRPC_CHECK(phase_ == Phase::kRunning) << "yield from a fiber that is not running: " << Name();
    phase_ = Phase::kRunnable;
  }

  // First step of Park, on the running fiber: consumes a pending permit. True means Park returns
  // at once (an Unpark came first); false means the fiber must park.
  bool TakePermit() {
    DRPC_CHECK(phase_ == Phase::kRunning) << "park from a fiber that is not running: " << Name();
    const bool had = permit_;
    permit_ = false;
    return had;
  }

  // Second step of Park (after TakePermit returned false): the fiber blocks with `reason`; the
  // scheduler then switches away from it.
  void Park(absl::string_view reason) {
    DRPC_CHECK(phase_ == Phase::kRunning) << "park from a fiber that is not running: " << Name();
    DRPC_CHECK(!permit_) << "parking with a permit pending (TakePermit first)";
    phase_ = Phase::kParked;
    reason_ = reason;
  }

  // Last step of Park, on the fiber once it runs again: the reason's lifetime ends here.
  void Unparked() {
    DRPC_DCHECK(phase_ == Phase::kRunning) << Name();
    reason_ = {};
  }

  // Makes a parked fiber runnable and returns true: the scheduler must queue it. Otherwise
  // returns false: a running or runnable fiber keeps a permit for its next Park, and an abandoned
  // fiber is left alone.
  bool Unpark() {
    switch (phase_) {
      case Phase::kParked:
        phase_ = Phase::kRunnable;
        return true;
      case Phase::kRunning:
      case Phase::kRunnable:
        permit_ = true;
        return false;
      case Phase::kAbandoned:
        return false;
    }
    return false;
  }

  // The running fiber stops for good (the simulator's Abort): it is never resumed again.
  void Abandon() {
    DRPC_CHECK(phase_ == Phase::kRunning) << "abandoning a fiber that is not running: " << Name();
    phase_ = Phase::kAbandoned;
  }

  // "runnable", "running", "parked", "abandoned".
  absl::string_view Name() const;

 private:
  Phase phase_ = Phase::kRunnable;
  bool permit_ = false;
  absl::string_view reason_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIBER_FIBER_STATE_H_
