#include "impl/sync.h"

#include <algorithm>

namespace drpc {
namespace {

// Inline, with its failure out of line: a failure's message stream would give every caller a
// large frame.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Fiber* CurrentFiber(Env& env, absl::string_view what) {
  Fiber* self = env.scheduler().Current();
  DRPC_CHECK_COLD(self != nullptr,
                  [&](std::ostream& os) { os << what << " must be called from a fiber"; });
  return self;
}

// Parks `self` until unparked or until `deadline`. Returns false if the deadline timer woke it.
bool ParkUntil(Env& env, Fiber* self, absl::string_view reason, Instant deadline) {
  if (deadline.is_infinite()) {
    env.scheduler().Park(reason);
    return true;
  }
  if (env.clock().Now() >= deadline) return false;
  // A plain timer: a timed wait (every Accept, every Recv with a stall timeout) sets one per
  // wait, and its context is this frame.
  struct Wake {
    Env* env;
    Fiber* self;
    bool fired = false;
    static void Fire(void* context) {
      auto* wake = static_cast<Wake*>(context);
      wake->fired = true;
      wake->env->scheduler().Unpark(wake->self);
    }
  } wake{&env, self};
  const TimerId timer = env.clock().ScheduleAtPlain(deadline, &Wake::Fire, &wake);
  env.scheduler().Park(reason);
  // After Cancel returns the callback can no longer run, so `wake` stays valid while it can.
  env.clock().Cancel(timer);
  return !wake.fired;
}

}  // namespace

// --- WaitList -------------------------------------------------------------------------------------

WaitList::~WaitList() {
  DRPC_CHECK(waiters_.empty()) << "destroyed with " << waiters_.size() << " parked fiber(s), first "
                               << waiters_.front()->name();
}

bool WaitList::WaitUntil(absl::string_view reason, Instant deadline) {
  Fiber* self = CurrentFiber(*env_, "WaitList::Wait");
  waiters_.push_back(self);
  const bool timer_fired = !ParkUntil(*env_, self, reason, deadline);
  // WakeOne/WakeAll take the fibers they wake off the list. If that happened, the wake wins even
  // when the deadline timer fired too before this fiber ran (a runtime may run several callbacks
  // before it resumes fibers): the waker chose this fiber, so reporting a timeout would swallow
  // the wake-up and no other waiter would get it.
  if (!Remove(self)) return true;
  return !timer_fired || env_->clock().Now() < deadline;
}

void WaitList::WakeFront() {
  Fiber* f = waiters_.front();
  waiters_.pop_front();
  env_->scheduler().Unpark(f);
}

void WaitList::WakeEvery() {
  // Unpark only marks a fiber runnable (none runs before this returns), so the list cannot
  // change under the loop; exactly the fibers waiting now are woken.
  for (size_t n = waiters_.size(); n > 0; --n) {
    Fiber* f = waiters_.front();
    waiters_.pop_front();
    env_->scheduler().Unpark(f);
  }
}

void SleepFor(Env& env, Duration duration, absl::string_view reason) {
  Fiber* self = CurrentFiber(env, "SleepFor");
  const Instant deadline = env.clock().Now() + duration;
  while (env.clock().Now() < deadline) {
    if (!ParkUntil(env, self, reason, deadline)) break;
  }
}

// --- Mutex ------------------------------------------------------------------------------------------

Mutex::~Mutex() { DRPC_CHECK(owner_ == nullptr) << "mutex " << name_ << " destroyed while held"; }


void Mutex::LockSlow(Fiber* self) {
  DRPC_CHECK(self != nullptr) << "Mutex::Lock must be called from a fiber";
  DRPC_CHECK(owner_ != self) << "mutex " << name_ << " locked twice by " << self->name();
  if (waiters_.env().chaos().Buggify(kYieldSite)) {
    YieldThenAcquire(self);
    return;
  }
  Acquire(self);
}

void Mutex::YieldThenAcquire(Fiber* self) {
  waiters_.env().scheduler().Yield();
  Acquire(self);
}

void Mutex::Acquire(Fiber* self) {
  if (owner_ == nullptr) {
    owner_ = self;
    return;
  }
  // Unlock hands ownership straight to the first waiter, so a waiter only has to check owner_.
  while (owner_ != self) waiters_.Wait(name_);
}

void Mutex::Relock() {
  DRPC_CHECK(HeldByCurrent()) << "mutex " << name_ << " relocked by a fiber that does not hold it";
  if (!waiters_.empty()) {
    Unlock();
    Lock();
    return;
  }
  // Nobody to hand the lock to: Unlock would leave it free, and only Lock's chaos yield could
  // let another fiber take it in between.
  Env& env = waiters_.env();
  if (!env.chaos().Buggify(kYieldSite)) return;
  Fiber* self = owner_;
  owner_ = nullptr;
  env.scheduler().Yield();
  Acquire(self);
}

// --- Signal -----------------------------------------------------------------------------------------

Signal::~Signal() {
  DRPC_CHECK(waiters_.empty()) << "signal destroyed with " << waiters_.size()
                               << " parked fiber(s), first " << waiters_.front()->name();
}

bool Signal::Set(absl::Status status) {
  if (set_) return false;
  set_ = true;
  status_ = std::move(status);
  // Unpark only marks a fiber runnable: none runs, so none leaves the list, before this returns
  // (a woken fiber that finds itself gone from the list knows it was taken off).
  if (!waiters_.empty()) {
    for (Fiber* f : waiters_) env_->scheduler().Unpark(f);
    waiters_.clear();
  }
  if (callbacks_.empty()) return true;
  // In order, each taken out before it runs: a callback may remove later ones (they must then not
  // run; RemoveCallback only empties them while this runs), and callbacks added now run at once
  // inside OnSet.
  for (size_t i = 0; i < callbacks_.size(); ++i) {
    // The move empties the entry (absl's move constructor empties its source, which absl does not
    // promise: sync_test's MovedFromCallbackIsEmpty pins it), so a RemoveCallback of a running or
    // ran callback finds it gone.
    absl::AnyInvocable<void(const absl::Status&)> fn = std::move(callbacks_[i].fn);
    if (fn) fn(status_);
  }
  callbacks_.clear();
  removed_count_ = 0;
  return true;
}

Signal::CallbackId Signal::OnSet(absl::AnyInvocable<void(const absl::Status&)> callback) {
  if (set_) {
    callback(status_);
    return 0;
  }
  const CallbackId id = next_callback_id_++;
  callbacks_.emplace_back(id, std::move(callback));
  return id;
}

void Signal::RemoveCallback(CallbackId id) {
  // The newest callback (most are removed in reverse order of registration, often the only one):
  // dropped at once, with the removed entries it leaves at the back.
  if (!set_ && !callbacks_.empty() && callbacks_.back().id == id) {
    callbacks_.pop_back();
    while (!callbacks_.empty() && !callbacks_.back().fn) {
      callbacks_.pop_back();
      --removed_count_;
    }
    CompactCallbacks();
    return;
  }
  auto it = std::lower_bound(callbacks_.begin(), callbacks_.end(), id,
                             [](const Callback& c, CallbackId v) { return c.id < v; });
  if (it == callbacks_.end() || it->id != id || !it->fn) return;
  it->fn = nullptr;
  if (set_) return;  // Set is running them by index: the entries stay until it is done
  ++removed_count_;
  while (!callbacks_.empty() && !callbacks_.back().fn) {
    callbacks_.pop_back();
    --removed_count_;
  }
  CompactCallbacks();
}

void Signal::CompactCallbacks() {
  if (2 * removed_count_ > callbacks_.size()) {
    callbacks_.erase(std::remove_if(callbacks_.begin(), callbacks_.end(),
                                    [](const Callback& c) { return !c.fn; }),
                     callbacks_.end());
    removed_count_ = 0;
  }
}

bool Signal::Wait(absl::string_view reason, Instant deadline) {
  return WaitAnyUntil({this}, reason, deadline).has_value();
}

std::optional<size_t> WaitAnyUntil(std::initializer_list<Signal*> signals, absl::string_view reason,
                                   Instant deadline) {
  DRPC_CHECK(signals.size() > 0);
  Env& env = *(*signals.begin())->env_;
  auto first_set = [&signals]() -> std::optional<size_t> {
    size_t i = 0;
    for (Signal* s : signals) {
      if (s->set_) return i;
      ++i;
    }
    return std::nullopt;
  };
  Fiber* self = CurrentFiber(env, "WaitAny");
  for (;;) {
    if (std::optional<size_t> i = first_set()) return i;
    if (env.clock().Now() >= deadline) return std::nullopt;
    for (Signal* s : signals) s->waiters_.push_back(self);
    const bool woken = ParkUntil(env, self, reason, deadline);
    for (Signal* s : signals) {
      auto it = std::find(s->waiters_.begin(), s->waiters_.end(), self);
      if (it != s->waiters_.end()) s->waiters_.erase(it);
    }
    if (!woken) {
      if (std::optional<size_t> i = first_set()) return i;
      return std::nullopt;
    }
  }
}

size_t WaitAny(std::initializer_list<Signal*> signals, absl::string_view reason) {
  std::optional<size_t> i = WaitAnyUntil(signals, reason, Instant::Infinite());
  DRPC_CHECK(i.has_value());
  return *i;
}

// --- WaitGroup --------------------------------------------------------------------------------------

WaitGroup::~WaitGroup() {
  DRPC_CHECK(waiters_.empty()) << "wait group destroyed with waiters";
}

void WaitGroup::Add(int n) {
  DRPC_CHECK_GE(count_ + n, 0);
  count_ += n;
  if (count_ == 0) waiters_.WakeAll();
}

void WaitGroup::Done() { Add(-1); }

void WaitGroup::Wait(absl::string_view reason) {
  while (count_ > 0) waiters_.Wait(reason);
}

}  // namespace drpc
