// The sync primitives, exercised on the simulator over many seeds (random schedules) and with
// spurious wake-ups switched on, since callers must tolerate them.
#include "impl/sync.h"

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
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

TEST(SyncTest, MutexExcludesAcrossBlockingCriticalSections) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Mutex mu(env);
    WaitGroup wg(env);
    int inside = 0;
    int total = 0;
    for (int i = 0; i < 5; ++i) {
      wg.Add();
      env.scheduler().Spawn(absl::StrCat("worker ", i), [&] {
        for (int k = 0; k < 10; ++k) {
          MutexLock lock(mu);
          ctx.Check(++inside == 1, "two fibers inside the critical section");
          env.scheduler().Yield();  // a blocking operation while holding the lock
          ++total;
          --inside;
        }
        wg.Done();
      });
    }
    wg.Wait();
    ctx.Check(total == 50, "lost increments");
  });
}

TEST(SyncTest, MutexHandsOwnershipToWaitersInArrivalOrder) {
  RunOptions options;
  options.fifo_policy = true;
  RunResult r = sim::RunSeed(
      [](SimContext& ctx) {
        Env& env = ctx.env();
        Mutex mu(env);
        WaitGroup wg(env);
        std::vector<int> order;
        mu.Lock();
        for (int i = 0; i < 4; ++i) {
          wg.Add();
          env.scheduler().Spawn(absl::StrCat("waiter ", i), [&, i] {
            MutexLock lock(mu);
            order.push_back(i);
            wg.Done();
          });
        }
        env.scheduler().Yield();  // let every waiter queue up
        mu.Unlock();
        wg.Wait();
        ctx.Check(order == std::vector<int>({0, 1, 2, 3}), "mutex was not handed off FIFO");
      },
      1, options);
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST(SyncTest, CondVarWaitReturnsAfterSignalWithTheLockHeld) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Mutex mu(env);
    CondVar cv(env);
    bool ready = false;
    WaitGroup wg(env);
    wg.Add();
    env.scheduler().Spawn("waiter", [&] {
      MutexLock lock(mu);
      while (!ready) cv.Wait(mu, "waiting for ready");
      ctx.Check(mu.HeldByCurrent(), "Wait returned without the lock");
      wg.Done();
    });
    SleepFor(env, Duration::Millis(1));
    {
      MutexLock lock(mu);
      ready = true;
      cv.SignalAll();
    }
    wg.Wait();
  });
}

TEST(SyncTest, WaitsWithDeadlinesTimeOutAtExactlyTheDeadline) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Mutex mu(env);
    CondVar cv(env);
    const Instant start = env.clock().Now();
    MutexLock lock(mu);
    // Wait may return early (spurious wake-up); only a false return means the deadline passed.
    while (cv.Wait(mu, "nobody signals", start + Duration::Millis(7))) {
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
      env.scheduler().Spawn(absl::StrCat("waiter ", i), [&] {
        sig.Wait("waiting for the signal");
        if (absl::IsCancelled(sig.status())) ++saw_cancelled;
        wg.Done();
      });
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

TEST(SyncTest, WaitAnyReturnsTheFirstSetSignalInListOrder) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    Signal a(env), b(env), c(env);
    env.scheduler().Spawn("setter", [&] {
      SleepFor(env, Duration::Millis(2));
      c.Set();
      b.Set();
    });
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
      env.scheduler().Spawn(absl::StrCat("task ", i), [&, i] {
        SleepFor(env, Duration::Micros(10 * i));
        ++done;
        wg.Done();
      });
    }
    wg.Wait();
    ctx.Check(done == 6, "Wait returned early");
  });
}

TEST(SyncTest, BoundedQueueBlocksProducersWhenFullAndKeepsOrder) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    BoundedQueue<int> q(env, 2);
    int max_size = 0;
    env.scheduler().Spawn("producer", [&] {
      for (int i = 0; i < 20; ++i) {
        ctx.Check(q.Push(i).ok(), "push failed");
        max_size = std::max<int>(max_size, static_cast<int>(q.size()));
      }
      q.Close(absl::OutOfRangeError("EOF"));
    });
    for (int expect = 0;; ++expect) {
      absl::StatusOr<int> v = q.Pop();
      if (!v.ok()) {
        ctx.Check(absl::IsOutOfRange(v.status()) && expect == 20, "wrong end of queue");
        break;
      }
      ctx.Check(*v == expect, "queue reordered items");
    }
    ctx.Check(max_size <= 2, "queue exceeded its capacity");
  });
}

TEST(SyncTest, ClosedQueueDrainsThenReportsAndRejectsPushes) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    BoundedQueue<std::string> q(env, 4);
    ctx.Check(q.Push("a").ok() && q.Push("b").ok(), "push");
    q.Close(absl::CancelledError("closed"));
    ctx.Check(absl::IsCancelled(q.Push("c")), "push after close must fail with the close status");
    std::string c = "c";
    ctx.Check(!q.TryPush(c) && c == "c", "TryPush after close");
    ctx.Check(*q.Pop() == "a" && *q.Pop() == "b", "queued items must drain after close");
    ctx.Check(absl::IsCancelled(q.Pop().status()), "then the close status");
  });
}

TEST(SyncTest, QueuePopWithDeadlineTimesOut) {
  RunOnSim([](SimContext& ctx) {
    Env& env = ctx.env();
    BoundedQueue<int> q(env, 1);
    absl::StatusOr<int> v = q.Pop(env.clock().Now() + Duration::Millis(4));
    ctx.Check(absl::IsDeadlineExceeded(v.status()), "pop should time out");
  });
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
