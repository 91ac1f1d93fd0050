// Synchronisation primitives for fibers, written once on top of Scheduler::Park/Unpark and shared
// by the simulator and the production runtime.
//
// All of them belong to one Scheduler (see impl/env.h): they are not thread-safe, and never need
// to be, because fibers of one scheduler run one at a time. Every blocking call takes a `reason`
// that shows up in deadlock reports; waits wake in FIFO order, so runs are deterministic.
//
//   Mutex mu(env);                    Signal done(env);
//   { MutexLock l(mu); ... }          done.Set(absl::CancelledError("context canceled"));
//   WaitGroup wg(env);                size_t which = WaitAny({&done, &closed}, "call");
//
// Destructors never block; destroying a primitive with parked waiters is a bug (checked).
#ifndef DRPC_IMPL_SYNC_H_
#define DRPC_IMPL_SYNC_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/fifo.h"
#include "impl/time.h"
#include "proto/base/check.h"

namespace drpc {

// Fibers waiting for a condition, woken in FIFO order. The building block of the others.
class WaitList {
 public:
  explicit WaitList(Env& env) : env_(&env) {}
  ~WaitList();
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  // Parks the calling fiber until woken by WakeOne/WakeAll, or spuriously: callers loop on their
  // condition. Returns false only if `deadline` passed first. A wake-up wins over a deadline that
  // passes at the same time: once WakeOne/WakeAll has chosen this fiber, Wait returns true (the
  // waker will not wake anyone else, so a timeout here would lose the wake-up).
  // Inline without a deadline: after the wake-up's switch every return up the chain is
  // mispredicted, so a frame less here is cheaper on every wake-up.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Wait(absl::string_view reason,
                                         Instant deadline = Instant::Infinite()) {
    if (!deadline.is_infinite()) return WaitUntil(reason, deadline);
    Fiber* self = env_->scheduler().Current();
    DRPC_CHECK(self != nullptr) << "WaitList::Wait must be called from a fiber";
    waiters_.push_back(self);
    env_->scheduler().Park(reason);
    Remove(self);  // still listed after a spurious wake-up
    return true;
  }
  // Inline when nobody waits (most wake-ups of a stream's lists): no call at all.
  void WakeOne() {
    if (!waiters_.empty()) WakeFront();
  }
  void WakeAll() {
    if (!waiters_.empty()) WakeEvery();
  }
  bool empty() const { return waiters_.empty(); }
  size_t size() const { return waiters_.size(); }
  // The fiber WakeOne would wake next, or nullptr.
  Fiber* front() const { return waiters_.empty() ? nullptr : waiters_.front(); }
  Env& env() const { return *env_; }

 private:
  bool WaitUntil(absl::string_view reason, Instant deadline);  // Wait with a finite deadline
  void WakeFront();  // WakeOne with a waiter
  void WakeEvery();  // WakeAll with waiters
  // False if `fiber` was not listed (a Wake took it off).
  bool Remove(Fiber* fiber) { return waiters_.EraseFirst(fiber); }
  Env* env_;
  Fifo<Fiber*> waiters_;
};

// Parks the calling fiber for `duration` of the Env's clock.
void SleepFor(Env& env, Duration duration, absl::string_view reason = "sleep");

// A mutual-exclusion lock whose critical sections may block (e.g. a write lock held across a
// transport write). Ownership is handed to waiters in FIFO order.
class Mutex {
 public:
  explicit Mutex(Env& env, absl::string_view name = "mutex") : waiters_(env), name_(name) {}
  ~Mutex();
  // Inline for the common case (a free lock, no chaos yield): impl/ takes a lock around every
  // write and most stream state changes.
  void Lock();
  void Unlock();
  // Unlock then Lock, for a holder whose next step is a critical section of its own: the fibers
  // waiting for the lock go first, and the chaos yield of a Lock is drawn, exactly as the two
  // calls would; with neither, the lock simply stays held (nothing else could have run between
  // them). Requires the lock held by the calling fiber.
  void Relock();
  bool held() const { return owner_ != nullptr; }
  bool HeldByCurrent() const;

 private:
  static constexpr absl::string_view kYieldSite = "mutex.yield_before_lock";
  // Lock when the caller is not a fiber or the lock is taken: the checks, the chaos yield, the
  // wait.
  void LockSlow(Fiber* self);
  // Lock after its chaos yield fired: yields, then takes the lock.
  void YieldThenAcquire(Fiber* self);
  // Lock after its chaos yield: takes the lock if free, else waits for the hand-off.
  void Acquire(Fiber* self);
  WaitList waiters_;
  absl::string_view name_;
  Fiber* owner_ = nullptr;
};

inline void Mutex::Lock() {
  Env& env = waiters_.env();
  Fiber* self = env.scheduler().Current();
  if (ABSL_PREDICT_FALSE(self == nullptr || owner_ != nullptr)) {
    LockSlow(self);
    return;
  }
  // A rare yield before taking a free lock lets the simulator reorder lock acquisition.
  if (ABSL_PREDICT_FALSE(env.chaos().Buggify(kYieldSite))) {
    YieldThenAcquire(self);
    return;
  }
  owner_ = self;
}

inline void Mutex::Unlock() {
  DRPC_CHECK_COLD(HeldByCurrent(), [this](std::ostream& os) {
    os << "mutex " << name_ << " unlocked by a fiber that does not hold it";
  });
  // Hand-off to the first waiter: FIFO fairness, and no barging by a fiber that happens to run
  // before the woken waiter.
  owner_ = waiters_.front();
  waiters_.WakeOne();
}

inline bool Mutex::HeldByCurrent() const {
  return owner_ != nullptr && owner_ == waiters_.env().scheduler().Current();
}

class MutexLock {
 public:
  explicit MutexLock(Mutex& mu) : mu_(&mu) { mu_->Lock(); }
  ~MutexLock() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

// A one-shot event carrying a status, like Go drpc's drpcsignal: the first Set wins, later Sets are
// ignored, and every waiter (present and future) sees the same status.
class Signal {
 public:
  explicit Signal(Env& env) : env_(&env) {}
  ~Signal();
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;

  // Returns true if this call set the signal.
  bool Set(absl::Status status = absl::OkStatus());
  bool IsSet() const { return set_; }
  // A fiber waits for it or a callback is registered: setting it would be seen.
  bool watched() const { return !waiters_.empty() || !callbacks_.empty(); }
  // The status given to the winning Set (OK before it is set).
  const absl::Status& status() const { return status_; }
  // Blocks until set. Returns false if `deadline` passed first.
  bool Wait(absl::string_view reason, Instant deadline = Instant::Infinite());

  // Runs `callback` with the status when the signal is set (at once if it already is; then 0 is
  // returned). Callbacks run inside Set(), after waiters are woken, in registration order; they
  // must not block. Returns an id for RemoveCallback.
  using CallbackId = uint64_t;
  CallbackId OnSet(absl::AnyInvocable<void(const absl::Status&)> callback);
  // After this returns the callback never runs. Unknown or already-run ids are ignored.
  void RemoveCallback(CallbackId id);

 private:
  // Drops the removed entries once they are the majority.
  void CompactCallbacks();
  friend std::optional<size_t> WaitAnyUntil(std::initializer_list<Signal*>, absl::string_view,
                                            Instant);
  struct Callback {
    Callback(CallbackId i, absl::AnyInvocable<void(const absl::Status&)>&& f)
        : id(i), fn(std::move(f)) {}
    CallbackId id;
    absl::AnyInvocable<void(const absl::Status&)> fn;  // empty once removed
  };
  // Ascending id, which is registration order. Inline: most signals (a call's context, a stream)
  // have one or two callbacks at a time, registered and removed once per call (a call's context:
  // the connection's watch and often the caller's own), so two fit without an allocation. A removal empties
  // the entry (found by binary search) and drops removed ones from the back; the rest are
  // compacted once they are the majority, so a signal with many (a parent context) stays
  // O(log n) per removal. First: it is 16-byte aligned, and the smaller fields then pack
  // behind it (a Stream holds two Signals, a CallContext one).
  absl::InlinedVector<Callback, 2> callbacks_;
  Env* env_;
  absl::Status status_;
  // Parked fibers; usually one (a call waiting for its stream), kept inline.
  absl::InlinedVector<Fiber*, 1> waiters_;
  CallbackId next_callback_id_ = 1;
  uint32_t removed_count_ = 0;  // emptied entries still in callbacks_
  bool set_ = false;
};

// Blocks until any of `signals` is set; returns the index of the first set one in list order.
// nullopt if `deadline` passed first. All signals must belong to the same Env.
std::optional<size_t> WaitAnyUntil(std::initializer_list<Signal*> signals, absl::string_view reason,
                                   Instant deadline);
size_t WaitAny(std::initializer_list<Signal*> signals, absl::string_view reason);

// Counts outstanding work; Wait blocks until the count is zero.
class WaitGroup {
 public:
  explicit WaitGroup(Env& env) : waiters_(env) {}
  ~WaitGroup();
  void Add(int n = 1);
  void Done();
  void Wait(absl::string_view reason = "wait group");
  int count() const { return count_; }

 private:
  WaitList waiters_;
  int count_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_SYNC_H_
