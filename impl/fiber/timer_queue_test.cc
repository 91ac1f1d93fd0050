#include "impl/fiber/timer_queue.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace drpc {
namespace {

Instant At(int64_t millis) { return Instant() + Duration::Millis(millis); }

TEST(TimerQueueTest, TimersFireByDeadlineThenInSchedulingOrder) {
  TimerQueue timers;
  std::vector<std::string> fired;
  timers.Add(At(20), [&] { fired.push_back("late"); });
  timers.Add(At(10), [&] { fired.push_back("first at 10"); });
  timers.Add(At(10), [&] { fired.push_back("second at 10"); });
  timers.Add(At(5), [&] { fired.push_back("early"); });
  EXPECT_EQ(timers.size(), 4u);
  EXPECT_EQ(timers.next_deadline(), At(5));
  EXPECT_EQ(timers.RunDue(At(20)), 4u);
  EXPECT_EQ(fired, (std::vector<std::string>{"early", "first at 10", "second at 10", "late"}));
  EXPECT_TRUE(timers.empty());
}

TEST(TimerQueueTest, IdsAreNonzeroAndRiseInSchedulingOrder) {
  TimerQueue timers;
  const TimerId a = timers.Add(At(9), [] {});
  const TimerId b = timers.Add(At(1), [] {});
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  TimerQueue::Expired next = timers.PopNext();
  EXPECT_EQ(next.id, b);
  EXPECT_EQ(next.deadline, At(1));
}

TEST(TimerQueueTest, RunDueLeavesTimersThatAreNotDueYet) {
  TimerQueue timers;
  int fired = 0;
  timers.Add(At(10), [&] { ++fired; });
  timers.Add(At(11), [&] { ++fired; });
  EXPECT_EQ(timers.RunDue(At(9)), 0u);
  EXPECT_EQ(timers.RunDue(At(10)), 1u);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timers.next_deadline(), At(11));
}

TEST(TimerQueueTest, CancelledTimerNeverRunsEvenWhenAlreadyDue) {
  TimerQueue timers;
  bool fired = false;
  const TimerId id = timers.Add(At(1), [&] { fired = true; });
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_EQ(timers.RunDue(At(100)), 0u);
  EXPECT_FALSE(fired);
  EXPECT_TRUE(timers.empty());
}

TEST(TimerQueueTest, CancelIsTrueOnlyForAQueuedTimer) {
  TimerQueue timers;
  const TimerId id = timers.Add(At(1), [] {});
  EXPECT_FALSE(timers.Cancel(id + 1));  // never issued
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_FALSE(timers.Cancel(id));  // already cancelled
  const TimerId fired = timers.Add(At(1), [] {});
  timers.RunDue(At(1));
  EXPECT_FALSE(timers.Cancel(fired));  // already ran
  EXPECT_FALSE(timers.Cancel(0));
}

TEST(TimerQueueTest, CallbackCancellingItselfGetsFalse) {
  TimerQueue timers;
  TimerId id = 0;
  bool cancel_result = true;
  id = timers.Add(At(1), [&] { cancel_result = timers.Cancel(id); });
  EXPECT_EQ(timers.RunDue(At(1)), 1u);
  EXPECT_FALSE(cancel_result);
}

TEST(TimerQueueTest, TimerCancelledByAnEarlierCallbackOfTheSameBatchNeverRuns) {
  TimerQueue timers;
  std::vector<std::string> fired;
  TimerId victim = 0;
  timers.Add(At(1), [&] {
    fired.push_back("canceller");
    EXPECT_TRUE(timers.Cancel(victim));
  });
  victim = timers.Add(At(1), [&] { fired.push_back("victim"); });
  EXPECT_EQ(timers.RunDue(At(1)), 1u);
  EXPECT_EQ(fired, (std::vector<std::string>{"canceller"}));
}

TEST(TimerQueueTest, CallbackMayAddTimersAndADueOneRunsInTheSameCall) {
  TimerQueue timers;
  std::vector<std::string> fired;
  timers.Add(At(5), [&] {
    fired.push_back("outer");
    timers.Add(At(3), [&] { fired.push_back("added, already due"); });
    timers.Add(At(50), [&] { fired.push_back("added, later"); });
  });
  EXPECT_EQ(timers.RunDue(At(10)), 2u);
  EXPECT_EQ(fired, (std::vector<std::string>{"outer", "added, already due"}));
  EXPECT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers.next_deadline(), At(50));
}

TEST(TimerQueueTest, PoppedTimerIsOutOfTheQueueBeforeItsCallbackRuns) {
  TimerQueue timers;
  const TimerId id = timers.Add(At(1), [] {});
  TimerQueue::Expired expired = timers.PopNext();
  EXPECT_TRUE(timers.empty());
  EXPECT_FALSE(timers.Cancel(id));
  expired.callback();
}

TEST(TimerQueueTest, ClearDropsTimersWithoutRunningThem) {
  TimerQueue timers;
  bool fired = false;
  const TimerId id = timers.Add(At(1), [&] { fired = true; });
  timers.Clear();
  EXPECT_TRUE(timers.empty());
  EXPECT_FALSE(timers.Cancel(id));
  EXPECT_EQ(timers.RunDue(Instant::Infinite()), 0u);
  EXPECT_FALSE(fired);
  EXPECT_GT(timers.Add(At(1), [] {}), id);  // ids are never reused
}

TEST(TimerQueueTest, InfiniteDeadlineSortsLast) {
  TimerQueue timers;
  timers.Add(Instant::Infinite(), [] {});
  timers.Add(At(1), [] {});
  EXPECT_EQ(timers.next_deadline(), At(1));
  EXPECT_EQ(timers.RunDue(At(1'000'000)), 1u);
  EXPECT_EQ(timers.next_deadline(), Instant::Infinite());
}

// Random adds, cancels and pops against a plain ordered map: same order, same Cancel answers,
// however many cancelled timers linger in the heap.
TEST(TimerQueueTest, AgreesWithAnOrderedMapUnderRandomAddsCancelsAndPops) {
  TimerQueue timers;
  std::map<std::pair<Instant, TimerId>, int> model;
  std::map<TimerId, Instant> deadline_of;
  uint64_t x = 12345;
  auto next = [&x](uint64_t n) {  // a fixed LCG: the test is the same on every run
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return (x >> 33) % n;
  };
  std::vector<TimerId> issued;
  int fired_value = -1;
  for (int step = 0; step < 20000; ++step) {
    const uint64_t op = next(10);
    if (op < 5 || issued.empty()) {
      const Instant deadline = At(static_cast<int64_t>(next(500)));
      const int value = step;
      const TimerId id = timers.Add(deadline, [&fired_value, value] { fired_value = value; });
      model[{deadline, id}] = value;
      deadline_of[id] = deadline;
      issued.push_back(id);
    } else if (op < 8) {
      const TimerId id = issued[next(issued.size())];
      auto it = deadline_of.find(id);
      const bool queued = it != deadline_of.end();
      ASSERT_EQ(timers.Cancel(id), queued) << "step " << step;
      if (queued) {
        model.erase({it->second, id});
        deadline_of.erase(it);
      }
    } else if (!model.empty()) {
      ASSERT_EQ(timers.next_deadline(), model.begin()->first.first);
      TimerQueue::Expired e = timers.PopNext();
      ASSERT_EQ(e.id, model.begin()->first.second) << "step " << step;
      e.callback();
      EXPECT_EQ(fired_value, model.begin()->second);
      deadline_of.erase(e.id);
      model.erase(model.begin());
    }
    ASSERT_EQ(timers.size(), model.size());
  }
}

TEST(TimerQueueTest, CallbackDestroyedByCancelMayCancelOtherTimers) {
  TimerQueue timers;
  TimerId other = timers.Add(At(5), [] {});
  struct CancelsOnDestruction {
    TimerQueue* timers;
    TimerId* other;
    bool armed = true;
    CancelsOnDestruction(TimerQueue* t, TimerId* o) : timers(t), other(o) {}
    CancelsOnDestruction(CancelsOnDestruction&& from) noexcept
        : timers(from.timers), other(from.other) {
      from.armed = false;
    }
    ~CancelsOnDestruction() {
      if (armed) {
        EXPECT_TRUE(timers->Cancel(*other));
      }
    }
    void operator()() {}
  };
  const TimerId id = timers.Add(At(1), CancelsOnDestruction(&timers, &other));
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_TRUE(timers.empty());
}

// A plain timer appends its name to the log its context points at.
struct PlainLog {
  std::vector<std::string>* log;
  std::string name;
  static void Fire(void* context) {
    auto* self = static_cast<PlainLog*>(context);
    self->log->push_back(self->name);
  }
};

TEST(TimerQueueTest, PlainTimersShareIdsOrderAndCancelWithTheOthers) {
  TimerQueue timers;
  std::vector<std::string> fired;
  PlainLog late{&fired, "plain late"}, first{&fired, "plain first at 10"}, gone{&fired, "gone"};
  EXPECT_EQ(timers.AddPlain(At(20), &PlainLog::Fire, &late), 1u);
  EXPECT_EQ(timers.Add(At(10), [&] { fired.push_back("second at 10"); }), 2u);
  const TimerId cancelled = timers.AddPlain(At(1), &PlainLog::Fire, &gone);
  EXPECT_EQ(cancelled, 3u);
  EXPECT_TRUE(timers.Cancel(cancelled));
  EXPECT_FALSE(timers.Cancel(cancelled));
  // Due at the same instant as an earlier Add: the id decides, as for any two timers.
  const TimerId plain_at_10 = timers.AddPlain(At(10), &PlainLog::Fire, &first);
  EXPECT_EQ(plain_at_10, 4u);
  EXPECT_EQ(timers.size(), 3u);
  EXPECT_EQ(timers.RunDue(At(20)), 3u);
  EXPECT_EQ(fired, (std::vector<std::string>{"second at 10", "plain first at 10", "plain late"}));
  EXPECT_TRUE(timers.empty());
}

TEST(TimerQueueTest, PopNextIfPlainTakesOnlyAPlainTimer) {
  TimerQueue timers;
  std::vector<std::string> fired;
  PlainLog plain{&fired, "plain"};
  timers.Add(At(1), [&] { fired.push_back("any"); });
  const TimerId plain_id = timers.AddPlain(At(2), &PlainLog::Fire, &plain);
  EXPECT_EQ(timers.PopNextIfPlain().fn, nullptr);  // the earliest is not plain: left queued
  EXPECT_EQ(timers.size(), 2u);
  timers.PopNext().callback();
  const TimerQueue::PlainExpired next = timers.PopNextIfPlain();
  ASSERT_NE(next.fn, nullptr);
  EXPECT_EQ(next.id, plain_id);
  EXPECT_EQ(next.deadline, At(2));
  EXPECT_TRUE(timers.empty());
  EXPECT_FALSE(timers.Cancel(plain_id));  // taken out: no longer queued
  next.fn(next.context);
  EXPECT_EQ(fired, (std::vector<std::string>{"any", "plain"}));
}

TEST(TimerQueueTest, PopNextHandsOutAPlainTimerAsACallback) {
  TimerQueue timers;
  std::vector<std::string> fired;
  PlainLog plain{&fired, "plain"};
  const TimerId id = timers.AddPlain(At(3), &PlainLog::Fire, &plain);
  TimerQueue::Expired next = timers.PopNext();
  EXPECT_EQ(next.id, id);
  EXPECT_TRUE(fired.empty());
  next.callback();
  EXPECT_EQ(fired, (std::vector<std::string>{"plain"}));
}

TEST(TimerQueueTest, ASlotFreedByAPlainTimerServesAnyTimerAndBack) {
  TimerQueue timers;
  std::vector<std::string> fired;
  PlainLog plain{&fired, "plain"};
  for (int round = 0; round < 3; ++round) {
    timers.AddPlain(At(round), &PlainLog::Fire, &plain);
    EXPECT_EQ(timers.RunDue(At(round)), 1u);
    timers.Add(At(round), [&] { fired.push_back("any"); });
    EXPECT_EQ(timers.RunDue(At(round)), 1u);
  }
  EXPECT_EQ(fired, (std::vector<std::string>{"plain", "any", "plain", "any", "plain", "any"}));
}

// A plain timer that cancels an AnyInvocable one, for a plain timer to cancel.
struct PlainCanceller {
  TimerQueue* timers;
  TimerId victim;
  std::vector<std::string>* log;
  static void Fire(void* context) {
    auto* self = static_cast<PlainCanceller*>(context);
    self->log->push_back("plain cancels");
    EXPECT_TRUE(self->timers->Cancel(self->victim));
  }
};

// Within one RunDue a plain timer cancels a due AnyInvocable one and an AnyInvocable timer cancels
// a due plain one: neither victim runs, and timers of both kinds added meanwhile (into the slots
// the victims freed) run in their turn.
TEST(TimerQueueTest, PlainAndCallbackTimersCancelEachOtherWithinOneRunDue) {
  TimerQueue timers;
  std::vector<std::string> fired;
  PlainCanceller canceller{&timers, 0, &fired};
  PlainLog doomed{&fired, "doomed plain"}, added{&fired, "added plain"};
  timers.AddPlain(At(1), &PlainCanceller::Fire, &canceller);
  canceller.victim = timers.Add(At(2), [&] { fired.push_back("doomed callback"); });
  const TimerId doomed_plain = timers.AddPlain(At(4), &PlainLog::Fire, &doomed);
  timers.Add(At(3), [&] {
    fired.push_back("callback cancels");
    EXPECT_TRUE(timers.Cancel(doomed_plain));
    timers.AddPlain(At(3), &PlainLog::Fire, &added);
    timers.Add(At(3), [&] { fired.push_back("added callback"); });
  });
  EXPECT_EQ(timers.RunDue(At(5)), 4u);
  EXPECT_EQ(fired, (std::vector<std::string>{"plain cancels", "callback cancels", "added plain",
                                             "added callback"}));
  EXPECT_TRUE(timers.empty());
}

TEST(TimerQueueDeathTest, NextDeadlineOfAnEmptyQueueIsABug) {
  TimerQueue timers;
  EXPECT_DEATH(timers.next_deadline(), "empty timer queue");
  EXPECT_DEATH(timers.PopNext(), "empty timer queue");
  EXPECT_DEATH(timers.PopNextIfPlain(), "empty timer queue");
}

}  // namespace
}  // namespace drpc
