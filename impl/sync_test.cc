// The sync primitives, exercised on the simulator over many seeds (random schedules) and with
// spurious wake-ups switched on, since callers must tolerate them.
#include "impl/sync.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

using sim::RunOptions;
using sim::RunResult;
using sim::SimContext;

// Runs `body` as the main fiber for `seeds` seeds, half of them with spurious wake-ups.
void RunOnSim(absl::FunctionRef<void(SimContext&)> body, int seeds = 30) {
  for (int seed = 1; seed <= seeds; ++seed) {
    RunOptions options;
    options.scheduler.spurious_wakeup_per_mille = (seed % 2 == 0) ? 300 : 0;
    RunResult r = sim::RunSeed(body, static_cast<uint64_t>(seed), options);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << sim::FailureClassName(r.failure) << ": "
                        << r.message;
  }
}

// A Clock over the simulator's that runs every timer due at an instant in one batch, before any
// fiber resumes, as a production event loop does (it runs all expired timers, then fibers). The
// simulator on its own resumes a woken fiber after each timer, so only this shows a wake-up and a
// deadline landing together.
class BatchingClock final : public Clock {
 public:
  explicit BatchingClock(Clock& inner) : inner_(&inner) {}
  ~BatchingClock() override {
    for (const auto& [id, inner_id] : inner_ids_) inner_->Cancel(inner_id);
  }

  Instant Now() const override { return inner_->Now(); }

  TimerId ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) override {
    const TimerId id = next_id_++;
    timers_.emplace(std::make_pair(deadline, id), std::move(callback));
    deadlines_.emplace(id, deadline);
    inner_ids_.emplace(id, inner_->ScheduleAt(deadline, [this] { RunDue(); }));
    return id;
  }

  bool Cancel(TimerId id) override {
    auto it = deadlines_.find(id);
    if (it == deadlines_.end()) return false;
    timers_.erase(std::make_pair(it->second, id));
    deadlines_.erase(it);
    inner_->Cancel(inner_ids_.at(id));
    inner_ids_.erase(id);
    return true;
  }

 private:
  void RunDue() {
    while (!timers_.empty() && timers_.begin()->first.first <= Now()) {
      auto node = timers_.extract(timers_.begin());
      const TimerId id = node.key().second;
      deadlines_.erase(id);
      inner_->Cancel(inner_ids_.at(id));  // false for the inner timer running now
      inner_ids_.erase(id);
      node.mapped()();
    }
  }

  Clock* inner_;
  TimerId next_id_ = 1;
  std::map<std::pair<Instant, TimerId>, absl::AnyInvocable<void()>> timers_;
  std::map<TimerId, Instant> deadlines_;
  std::map<TimerId, TimerId> inner_ids_;
};

TEST(SyncTest, MutexExcludesAcrossBlockingCriticalSections) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Mutex mu(env);
    WaitGroup wg(env);
    int inside = 0;
    int total = 0;
    for (int i = 0; i < 5; ++i) {
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("worker ", i), [&] {
        for (int k = 0; k < 10; ++k) {
          MutexLock lock(mu);
          ctx.Check(++inside == 1, "two fibers inside the critical section");
          env.scheduler().Yield();  // a blocking operation while holding the lock
          ++total;
          --inside;
        }
        wg.Done();
      }));
    }
    wg.Wait();
    ctx.Check(total == 50, "lost increments");
  });
}

TEST(SyncTest, MutexHandsOwnershipToWaitersInArrivalOrder) {
  RunOptions options;
  options.policy = sim::PolicySpec::Fifo();
  RunResult r = sim::RunSeed(
      [](SimContext& ctx) {
        Env& env = ctx.env();
        Mutex mu(env);
        WaitGroup wg(env);
        std::vector<int> order;
        mu.Lock();
        for (int i = 0; i < 4; ++i) {
          wg.Add();
          DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("waiter ", i), [&, i] {
            MutexLock lock(mu);
            order.push_back(i);
            wg.Done();
          }));
        }
        env.scheduler().Yield();  // let every waiter queue up
        mu.Unlock();
        wg.Wait();
        ctx.Check(order == std::vector<int>({0, 1, 2, 3}), "mutex was not handed off FIFO");
      },
      1, options);
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST(SyncTest, RelockLetsTheWaitersGoFirstAndKeepsAnUncontendedLock) {
  RunOptions options;
  options.policy = sim::PolicySpec::Fifo();
  RunResult r = sim::RunSeed(
      [](SimContext& ctx) {
        Env& env = ctx.env();
        Mutex mu(env);
        WaitGroup wg(env);
        std::vector<int> order;
        mu.Lock();
        mu.Relock();  // nobody waits: still held
        ctx.Check(mu.HeldByCurrent(), "an uncontended Relock let the lock go");
        for (int i = 0; i < 2; ++i) {
          wg.Add();
          DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("waiter ", i), [&, i] {
            MutexLock lock(mu);
            order.push_back(i);
            wg.Done();
          }));
        }
        env.scheduler().Yield();  // let both waiters queue up
        mu.Relock();              // as Unlock then Lock: both go first
        order.push_back(9);
        mu.Unlock();
        wg.Wait();
        ctx.Check(order == std::vector<int>({0, 1, 9}), "Relock did not hand the lock on FIFO");
      },
      1, options);
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST(SyncTest, WaitsWithDeadlinesTimeOutAtExactlyTheDeadline) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    WaitList nobody_wakes(env);
    const Instant start = env.clock().Now();
    // Wait may return early (spurious wake-up); only a false return means the deadline passed.
    while (nobody_wakes.Wait("nobody wakes", start + Duration::Millis(7))) {
      ctx.Check(env.clock().Now() - start < Duration::Millis(7), "woken after the deadline");
    }
    ctx.Check(env.clock().Now() - start == Duration::Millis(7), "timed out at the wrong time");
    Signal never(env);
    ctx.Check(!never.Wait("never set", env.clock().Now() + Duration::Millis(3)),
              "signal wait should time out");
  });
}

TEST(SyncTest, SignalFirstSetWinsAndEveryWaiterSeesItsStatus) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Signal sig(env);
    WaitGroup wg(env);
    int saw_cancelled = 0;
    for (int i = 0; i < 3; ++i) {
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("waiter ", i), [&] {
        sig.Wait("waiting for the signal");
        if (absl::IsCancelled(sig.status())) ++saw_cancelled;
        wg.Done();
      }));
    }
    env.scheduler().Yield();
    ctx.Check(sig.Set(absl::CancelledError("first")), "first Set must win");
    ctx.Check(!sig.Set(absl::InternalError("second")), "second Set must lose");
    wg.Wait();
    ctx.Check(saw_cancelled == 3, "a waiter saw the wrong status");
    ctx.Check(sig.status().message() == "first", "status changed after the first Set");
  });
}

TEST(SyncTest, SignalCallbacksRunOnceInOrderAndRemovedOnesNever) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Signal sig(env);
    std::vector<std::string> calls;
    Signal::CallbackId second = 0;
    sig.OnSet([&](const absl::Status& s) {
      calls.push_back(absl::StrCat("first:", s.message()));
      sig.RemoveCallback(second);  // removing a later callback from inside Set
    });
    second = sig.OnSet([&](const absl::Status&) { calls.push_back("second"); });
    const Signal::CallbackId third = sig.OnSet([&](const absl::Status&) { calls.push_back("third"); });
    sig.OnSet([&](const absl::Status&) { calls.push_back("fourth"); });
    sig.RemoveCallback(third);
    sig.Set(absl::CancelledError("x"));
    sig.Set(absl::CancelledError("y"));
    ctx.Check(calls == std::vector<std::string>({"first:x", "fourth"}), "wrong callbacks ran");
    sig.OnSet([&](const absl::Status& s) { calls.push_back(absl::StrCat("late:", s.message())); });
    ctx.Check(calls.back() == "late:x", "a callback added after Set must run at once");
  });
}

// Signal::Set and TimerQueue::Release take a callback out by moving it and rely on the move
// leaving the source empty, which absl implements but does not promise: an absl upgrade that
// changed it would fail here first.
TEST(SyncTest, MovedFromCallbackIsEmpty) {
  std::string big(64, 'x');  // a capture too large for the inline storage
  absl::AnyInvocable<void(const absl::Status&)> heap = [big](const absl::Status&) {};
  absl::AnyInvocable<void(const absl::Status&)> taken = std::move(heap);
  EXPECT_TRUE(taken);
  EXPECT_FALSE(heap);  // NOLINT(bugprone-use-after-move): the property under test
  absl::AnyInvocable<void()> small = [] {};
  absl::AnyInvocable<void()> taken_small = std::move(small);
  EXPECT_TRUE(taken_small);
  EXPECT_FALSE(small);  // NOLINT(bugprone-use-after-move)
}

// Many callbacks removed in an order unlike registration's (front, back, middle; some twice):
// the list compacts as removals accumulate, and the rest still run once each, in order.
TEST(SyncTest, SignalWithManyCallbacksRunsTheKeptOnesInOrderAfterScatteredRemovals) {
  RunOnSim([](SimContext& ctx) {
    Signal sig(ctx.env());
    std::vector<int> calls;
    std::vector<Signal::CallbackId> ids;
    for (int i = 0; i < 100; ++i) {
      ids.push_back(sig.OnSet([&calls, i](const absl::Status&) { calls.push_back(i); }));
    }
    std::vector<int> expected;
    for (int i = 0; i < 100; ++i) {
      if (i % 3 == 0) expected.push_back(i);
    }
    for (int i = 99; i >= 50; --i) {
      if (i % 3 != 0) sig.RemoveCallback(ids[i]);
    }
    for (int i = 0; i < 50; ++i) {
      if (i % 3 != 0) sig.RemoveCallback(ids[i]);
    }
    sig.RemoveCallback(ids[1]);   // already removed: ignored
    sig.RemoveCallback(ids[98]);  // already removed: ignored
    sig.RemoveCallback(12345);    // never registered: ignored
    sig.Set();
    ctx.Check(calls == expected, absl::StrCat("ran ", calls.size(), " callbacks, expected ",
                                              expected.size(), " (every third, in order)"));
  });
}

TEST(SyncTest, WaitAnyReturnsTheFirstSetSignalInListOrder) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Signal a(env), b(env), c(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("setter", [&] {
      SleepFor(env, Duration::Millis(2));
      c.Set();
      b.Set();
    }));
    const size_t which = WaitAny({&a, &b, &c}, "waiting for any");
    // The setter sets both before the waiter runs again; list order breaks the tie.
    ctx.Check(which == 1, absl::StrCat("WaitAny returned ", which));
    ctx.Check(!WaitAnyUntil({&a}, "a never", env.clock().Now() + Duration::Millis(1)).has_value(),
              "WaitAnyUntil should time out");
  });
}

TEST(SyncTest, WaitGroupWaitsForEveryDone) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    WaitGroup wg(env);
    int done = 0;
    for (int i = 0; i < 6; ++i) {
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("task ", i), [&, i] {
        SleepFor(env, Duration::Micros(10 * i));
        ++done;
        wg.Done();
      }));
    }
    wg.Wait();
    ctx.Check(done == 6, "Wait returned early");
  });
}

// The waker's timer is scheduled before the waiter's deadline timer, at the same instant: in one
// batch the waker wakes (and so chooses) the waiter, then its deadline timer fires as well. The
// wake-up must win: the waker chose this waiter and no other, so reporting a timeout would lose
// it (an item left in a queue, a signal nobody sees).
TEST(SyncTest, AWakeUpAtTheDeadlineWinsOverTheTimeout) {
  const RunResult r = sim::RunSeed(
      [](SimContext& ctx) {
        BatchingClock clock(ctx.env().clock());
        Env env(clock, ctx.env().scheduler(), ctx.env().chaos());
        WaitList waiters(env);
        int wakes = 0;
        const Instant deadline = clock.Now() + Duration::Millis(5);
        clock.ScheduleAt(deadline, [&] {
          ++wakes;
          waiters.WakeOne();
        });
        bool woken = true;
        while (wakes == 0 && woken) woken = waiters.Wait("waiting for the wake-up", deadline);
        ctx.Check(woken, "a Wait chosen by WakeOne reported a timeout");
        ctx.Check(wakes == 1, "returned before the wake-up");
      },
      1, RunOptions{});
  EXPECT_TRUE(r.ok()) << sim::FailureClassName(r.failure) << ": " << r.message;
}

TEST(SyncTest, UnparkBeforeParkIsNotLost) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Fiber* self = env.scheduler().Current();
    env.scheduler().Unpark(self);
    env.scheduler().Park("consumes the permit at once");
    ctx.Check(true, "");
  });
}

TEST(SyncTest, CancelledTimerNeverFires) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    bool fired = false;
    const TimerId t = env.clock().ScheduleAt(env.clock().Now() + Duration::Millis(1),
                                             [&] { fired = true; });
    ctx.Check(env.clock().Cancel(t), "cancel of a pending timer must succeed");
    ctx.Check(!env.clock().Cancel(t), "second cancel must report false");
    SleepFor(env, Duration::Millis(5));
    ctx.Check(!fired, "a cancelled timer fired");
  });
}

}  // namespace
}  // namespace drpc
