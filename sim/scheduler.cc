#include "sim/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

// A sweep runs seed after seed on one thread, each on a new scheduler: the stacks the last run
// mapped, guarded and touched serve the next.
StackSlabCache& ThreadStackSlabCache() {
  thread_local StackSlabCache cache(kStackSlabsParkedMaxCount);
  return cache;
}

}  // namespace

SimScheduler::SimScheduler(DecisionSource& decisions, Trace& trace, Options options,
                           std::unique_ptr<SchedulingPolicy> policy)
    : decisions_(&decisions),
      trace_(&trace),
      options_(options),
      policy_(std::move(policy)),
      stacks_(StackPool::Options{.stack_bytes = options.stack_bytes,
                                 .stack_count_max = options.stack_count_max,
                                 .mapping_count_max = options.mapping_count_max,
                                 .cached_max_count = kStacksCachedMaxCount,
                                 .guard = options.stack_guard,
                                 .slab_cache = &ThreadStackSlabCache()}) {}

size_t SimScheduler::ParkedStackSlabCount() { return ThreadStackSlabCache().slab_count(); }

SimScheduler::~SimScheduler() {
  DRPC_CHECK(current_ == nullptr) << "scheduler destroyed from inside a fiber";
  timers_.Clear();
  fibers_.clear();
  killed_.clear();
}

void SimScheduler::Freeze() {
  DRPC_CHECK(current_ == nullptr) << "Freeze() is called after Run() returned";
  for (auto& fiber : fibers_) fiber->context_->Freeze();
}

// --- Clock ----------------------------------------------------------------------------------------

Instant SimScheduler::DrawLateness(Instant deadline) {
  if (decisions_->Choose("timer.late", 4) != 3) return deadline;
  const uint64_t step = decisions_->Choose("timer.jitter", 1001);
  return deadline + options_.timer_jitter_max * static_cast<int64_t>(step) / 1000;
}

bool SimScheduler::Cancel(TimerId id) { return timers_.Cancel(id); }

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SimScheduler::OnTimerFired(Instant deadline, TimerId id) {
  now_ = std::max(now_, deadline);
  ++stats_.timers_fired;
  trace_->MixEvent(0x71, id);
  trace_->Mix(static_cast<uint64_t>(now_.nanos()));
  if (recorder_ != nullptr) recorder_->TimerFired(now_, id);
}

void SimScheduler::FireNextTimer() {
  if (const TimerQueue::PlainExpired plain = timers_.PopNextIfPlain(); plain.fn != nullptr) {
    OnTimerFired(plain.deadline, plain.id);
    plain.fn(plain.context);
    return;
  }
  TimerQueue::Expired timer = timers_.PopNext();
  OnTimerFired(timer.deadline, timer.id);
  timer.callback();
}

// --- Scheduler ------------------------------------------------------------------------------------

absl::Status SimScheduler::Spawn(std::string name, absl::AnyInvocable<void()> body) {
  absl::StatusOr<FiberStack> stack = stacks_.Allocate();
  if (!stack.ok()) {
    ++stats_.spawns_failed;
    if (trace_->enabled()) {
      trace_->Log(now_, absl::StrCat("spawn failed: ", name, ": ", stack.status().message()));
    }
    trace_->Mix(0x5e);
    return stack.status();
  }
  const uint64_t id = next_fiber_id_++;
  if (trace_->enabled()) trace_->Log(now_, absl::StrCat("spawn #", id, " ", name));
  if (recorder_ != nullptr) recorder_->Spawn(now_, id, name);
  std::unique_ptr<SimFiber> fiber;
  if (spare_fibers_.empty()) {
    fiber = std::make_unique<SimFiber>(id, std::move(name), stacks_, *stack, std::move(body));
  } else {
    fiber = std::move(spare_fibers_.back());
    spare_fibers_.pop_back();
    fiber->Reuse(id, std::move(name), stacks_, *stack, std::move(body));
  }
  SimFiber* f = fiber.get();
  fibers_.push_back(std::move(fiber));
  MakeRunnable(f);
  ++stats_.fibers_spawned;
  trace_->Mix(0x5f);
  trace_->Mix(id);
  return absl::OkStatus();
}

void SimScheduler::Yield() {
  SimFiber* self = current_;
  DRPC_CHECK(self != nullptr) << "Yield outside a fiber";
  self->state_.Yield();
  MakeRunnable(self);
  self->context_->Suspend();
}

void SimScheduler::Abort() {
  aborted_ = true;
  if (SimFiber* self = current_; self != nullptr) {
    self->state_.Abandon();
    self->context_->Suspend();
    DRPC_CHECK(false) << "an aborted fiber was resumed";
  }
}

inline bool SimScheduler::InterleaveTimer(Instant time_limit) {
  if (options_.timer_interleave_per_mille == 0 || timers_.empty()) return false;
  const Instant deadline = timers_.next_deadline();
  // runnable_ is in wake-up order, so its first fiber has waited longest.
  const Instant waited_from = runnable_.front().since;
  if (deadline > time_limit || deadline > waited_from + options_.timer_interleave_window) {
    return false;
  }
  return ChooseInterleave();
}

bool SimScheduler::ChooseInterleave() {
  DRPC_DCHECK_LT(options_.timer_interleave_per_mille, 1000u);
  if (!ChooseChance(*decisions_, "sched.timer", options_.timer_interleave_per_mille)) return false;
  ++stats_.timers_interleaved;
  FireNextTimer();
  return true;
}

void SimScheduler::Kill(Fiber* fiber) {
  DRPC_CHECK(fiber != nullptr);
  auto* f = static_cast<SimFiber*>(fiber);
  DRPC_CHECK(!f->killed_) << "fiber #" << f->id_ << " killed twice";
  auto it = FindFiber(f->id_);
  DRPC_CHECK(it != fibers_.end()) << "killing a fiber that is not alive";
  f->killed_ = true;
  if (const size_t r = runnable_.Find(f); r < runnable_.size()) runnable_.erase(r);
  killed_.push_back(std::move(*it));
  fibers_.erase(it);
  ++stats_.fibers_killed;
  trace_->Mix(0x6b);
  trace_->Mix(f->id_);
  if (trace_->enabled()) trace_->Log(now_, absl::StrCat("killed #", f->id_, " ", f->name_));
  if (recorder_ != nullptr) recorder_->Exit(now_, f->id_);
  if (f == current_) {
    f->context_->Suspend();
    DRPC_CHECK(false) << "a killed fiber was resumed";
  }
}

// Inlined into Run: after the switch back every return up the chain is mispredicted (the return
// predictions belong to the fiber's stack), so a frame less here is cheaper on every switch.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SimScheduler::RunFiber(SimFiber* fiber) {
  fiber->state_.Resume();
  current_ = fiber;
  ++stats_.switches;
  trace_->Mix(fiber->id_);
  fiber->context_->Resume();
  current_ = nullptr;
  if (fiber->killed_) return;  // killed while it ran: owned by killed_ now
  if (fiber->context_->finished()) OnFinished(fiber);
}

void SimScheduler::OnFinished(SimFiber* fiber) {
  if (trace_->enabled()) trace_->Log(now_, absl::StrCat("exit #", fiber->id_, " ", fiber->name_));
  if (recorder_ != nullptr) recorder_->Exit(now_, fiber->id_);
  auto it = FindFiber(fiber->id_);
  DRPC_CHECK(it != fibers_.end());
  std::unique_ptr<SimFiber> record = std::move(*it);
  fibers_.erase(it);
  record->context_.reset();  // its stack goes back to the pool now, as when the record died
#ifndef ABSL_HAVE_ADDRESS_SANITIZER
  if (spare_fibers_.size() < kSpareFibersMaxCount) spare_fibers_.push_back(std::move(record));
#endif
}

std::vector<std::unique_ptr<SimScheduler::SimFiber>>::iterator SimScheduler::FindFiber(
    uint64_t id) {
  auto it = std::lower_bound(
      fibers_.begin(), fibers_.end(), id,
      [](const std::unique_ptr<SimFiber>& f, uint64_t want) { return f->id_ < want; });
  return it != fibers_.end() && (*it)->id_ == id ? it : fibers_.end();
}

SimScheduler::Outcome SimScheduler::Run(Instant time_limit, uint64_t step_limit) {
  DRPC_CHECK(current_ == nullptr) << "Run called from a fiber";
  for (;;) {
    if (aborted_) return Outcome::kAborted;
    if (!runnable_.empty()) {
      if (stats_.switches >= step_limit) return Outcome::kStepLimit;
      if (InterleaveTimer(time_limit)) continue;
      size_t index = 0;
      if (runnable_.size() > 1) {
        runnable_ids_.clear();
        for (size_t i = 0; i < runnable_.size(); ++i) {
          runnable_ids_.push_back(runnable_[i].fiber->id_);
        }
        index = policy_->Pick(runnable_ids_, *decisions_);
        DRPC_CHECK_LT(index, runnable_.size());
      }
      SimFiber* fiber = runnable_[index].fiber;
      runnable_.erase(index);
      RunFiber(fiber);
      continue;
    }
    if (timers_.empty()) return Outcome::kIdle;
    if (timers_.next_deadline() > time_limit) return Outcome::kTimeLimit;
    FireNextTimer();
  }
}

std::vector<SimScheduler::ParkedFiber> SimScheduler::ParkedFibers() const {
  std::vector<ParkedFiber> out;
  for (const auto& f : fibers_) {
    const uint64_t id = f->id_;
    if (f->state_.parked()) {
      out.push_back({id, f->name_, std::string(f->state_.park_reason())});
    } else if (f->state_.abandoned()) {
      out.push_back({id, f->name_, "stopped by a failure"});
    }
  }
  return out;
}

}  // namespace drpc::sim
