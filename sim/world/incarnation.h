// One life of a simulated node (internal to sim/world; users see Node, node.h): the Env the
// node's code runs on, and everything that life owns.
//
//   Incarnation life(scheduler, chaos, "primary", /*boot=*/1, on_park);
//   DRPC_CHECK_OK(life.env().scheduler().Spawn("loop", [&] { ... }));  // fiber "primary/loop"
//   life.Crash();  // fibers killed, timers cancelled, transports and listeners closed
//
// The Env is the world's virtual clock and scheduler seen through this life: every fiber spawned
// and every timer scheduled through it is recorded, so a crash can end them all at once. A
// crashed life is never destroyed (World keeps it for the life of the process): its objects'
// destructors would run over the state the crash left half-done, and its killed fibers' stacks
// still point into them.
#ifndef DRPC_SIM_WORLD_INCARNATION_H_
#define DRPC_SIM_WORLD_INCARNATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/sync.h"
#include "sim/scheduler.h"

namespace drpc::sim {

class Incarnation final : public Clock, public Scheduler {
 public:
  // `on_park` runs in a fiber of this life just before it parks (the world's invariant checks);
  // it must not park.
  Incarnation(SimScheduler& scheduler, Chaos& chaos, std::string node, int boot,
              std::function<void()> on_park);
  // Requires a clean stop (no fiber left, nothing registered); cancels the timers still pending.
  ~Incarnation() override;
  Incarnation(const Incarnation&) = delete;
  Incarnation& operator=(const Incarnation&) = delete;

  Env& env() { return env_; }
  const std::string& node() const { return node_; }
  int boot() const { return boot_; }
  bool dead() const { return dead_; }

  // Clock: timers of a dead life never fire (a timer asked for by a dead life fires at once and
  // does nothing).
  Instant Now() const override { return scheduler_->Now(); }
  TimerId ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) override;
  bool Cancel(TimerId id) override;

  // Scheduler: fibers are named "<node>/<name>". Spawn fails with kUnavailable once dead; a fiber
  // spawned before the crash that had not started yet returns at once when it does.
  [[nodiscard]] absl::Status Spawn(std::string name, absl::AnyInvocable<void()> body) override;
  void Yield() override { scheduler_->Yield(); }
  void Park(absl::string_view reason) override;
  void Unpark(Fiber* fiber) override { scheduler_->Unpark(fiber); }
  Fiber* Current() override { return scheduler_->Current(); }

  // Something to close when this life crashes (its transports and listeners), described by
  // `what`. Returns a key for Unregister (which a transport calls when it is destroyed).
  uint64_t Register(std::string what, std::function<void()> close);
  void Unregister(uint64_t key);
  // What is registered and not yet unregistered (a clean stop must end with none).
  std::vector<std::string> Registered() const;

  // Objects this life owns: destroyed in reverse order by DestroyOwned (a clean stop), kept for
  // ever after a crash.
  void Own(std::shared_ptr<void> object) { owned_.push_back(std::move(object)); }
  void DestroyOwned();
  // Run by a clean stop, last registered first.
  void OnStop(absl::AnyInvocable<void()> hook) { stop_hooks_.push_back(std::move(hook)); }
  void RunStopHooks();

  // Fibers held by a cut link wait here; the world wakes them when a link heals, a transport
  // closes them when it is closed locally.
  WaitList& links_changed() { return links_changed_; }

  // Fibers of this life spawned and not yet returned (the stop waits for them to end).
  size_t fibers() const { return fibers_.size(); }
  // Woken (on the world's Env) each time a fiber of this life returns.
  WaitList& fiber_exits() { return fiber_exits_; }

  // The crash: kills every fiber of this life (the caller last, if it is one: then Crash does not
  // return), cancels its timers, closes what it registered. Idempotent.
  void Crash();

 private:
  SimScheduler* scheduler_;
  Env env_;
  std::string node_;
  int boot_;
  std::function<void()> on_park_;
  bool dead_ = false;
  uint64_t next_fiber_ = 1;
  // By spawn order (a crash kills them deterministically); null until the fiber starts.
  std::map<uint64_t, Fiber*> fibers_;
  std::map<TimerId, bool> timers_;     // pending timers (ordered: cancelled in a fixed order)
  uint64_t next_key_ = 1;
  struct Closer {
    std::string what;
    std::function<void()> close;
  };
  std::map<uint64_t, Closer> closers_;
  std::vector<std::shared_ptr<void>> owned_;
  std::vector<absl::AnyInvocable<void()>> stop_hooks_;
  WaitList links_changed_;
  WaitList fiber_exits_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_WORLD_INCARNATION_H_
