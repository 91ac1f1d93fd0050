// Scheduling policies (sim/policy.h) and timer interleaving (sim/scheduler.h).
#include "sim/policy.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"
#include "sim/toys.h"

namespace drpc::sim {
namespace {

TEST(PolicySpecTest, ParsesWhatItPrints) {
  for (const char* text : {"swarm", "fifo", "random:ti=30:tw=1ms", "random:ti=0:tw=0ms",
                           "pct:d=3:ti=30:tw=1ms", "pct:d=2:k=500:ti=300:tw=100us",
                           "exhaustive:ti=1:tw=10ms"}) {
    absl::StatusOr<PolicySpec> spec = PolicySpec::Parse(text);
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    EXPECT_EQ(spec->ToString(), text);
  }
  // Missing keys keep their defaults; the order of keys does not matter.
  EXPECT_EQ(PolicySpec::Parse("pct")->ToString(), "pct:d=3:ti=30:tw=1ms");
  EXPECT_EQ(PolicySpec::Parse("pct:tw=0:d=1")->ToString(), "pct:d=1:ti=30:tw=0ms");
  EXPECT_EQ(*PolicySpec::Parse("fifo"), PolicySpec::Fifo());
}

TEST(PolicySpecTest, RejectsWhatItCannotRun) {
  for (const char* text : {"", "lifo", "pct:d=0", "pct:d=17", "pct:d=x", "random:ti=1000",
                           "random:tw=5", "random:d=3", "fifo:ti=3", "swarm:d=2", "pct:q=1"}) {
    EXPECT_FALSE(PolicySpec::Parse(text).ok()) << text;
  }
  EXPECT_TRUE(absl::StrContains(PolicySpec::Parse("pct:d=0").status().message(), "d must be"));
}

TEST(PolicySpecTest, TheSwarmPicksByTheSeedAloneAndMixesPolicies) {
  std::map<std::string, int> kinds;
  std::set<uint32_t> interleave;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    const PolicySpec p = ResolvePolicy(PolicySpec::Swarm(), seed);
    EXPECT_EQ(p, ResolvePolicy(PolicySpec::Swarm(), seed));
    EXPECT_NE(p.kind, PolicySpec::Kind::kSwarm);
    ++kinds[p.kind == PolicySpec::Kind::kPct ? absl::StrCat("pct:d=", p.pct_depth) : "random"];
    interleave.insert(p.timer_interleave_per_mille);
  }
  EXPECT_EQ(kinds.size(), 3u);
  EXPECT_GT(kinds["random"], 150);
  EXPECT_GT(kinds["pct:d=2"], 60);
  EXPECT_GT(kinds["pct:d=3"], 60);
  EXPECT_EQ(interleave, (std::set<uint32_t>{0, 30, 300}));
  EXPECT_EQ(ResolvePolicy(PolicySpec::Pct(2), 9), PolicySpec::Pct(2));  // only the swarm resolves
}

TEST(PctPolicyTest, RunsTheHighestPriorityFiberAndDemotesItAtAChangePoint) {
  PctPolicy pct(/*depth=*/2, /*steps=*/10);
  Tape t;
  t.decisions.push_back({"pct.change", 10, 2});          // the change point is step 3
  t.decisions.push_back({"pct.priority", 1u << 30, 5});  // fiber 7
  t.decisions.push_back({"pct.priority", 1u << 30, 3});  // fiber 9
  TapeDecisions d(t);
  const std::vector<uint64_t> runnable = {9, 7};  // 9 has waited longer, 7 has priority
  EXPECT_EQ(pct.Pick({7, 9}, d), 0u);             // step 1: fiber 7
  EXPECT_EQ(pct.Pick(runnable, d), 1u);           // step 2: fiber 7 (index 1 here)
  EXPECT_EQ(pct.Pick(runnable, d), 0u);           // step 3: 7 demoted to priority 1: fiber 9
  EXPECT_EQ(pct.Pick(runnable, d), 0u);           // and it stays below
  EXPECT_EQ(d.divergences(), 0u) << d.first_divergence();
  EXPECT_EQ(d.exhausted(), 0u);
}

TEST(PctPolicyTest, EqualPrioritiesGoToTheLowerFiberId) {
  PctPolicy pct(/*depth=*/1, /*steps=*/0);
  TapeDecisions zeros{Tape{}};  // every priority 0, no change points (d = 1)
  EXPECT_EQ(pct.Pick({5, 3, 4}, zeros), 1u);
  EXPECT_EQ(pct.Pick({4, 5}, zeros), 0u);
}

// Fibers appending to one log across yields: under PCT with d = 1 (no change points) the fiber
// with the highest priority runs until it is done, so the log is one block per fiber.
TEST(PctPolicyTest, WithDepthOneEachFiberRunsToCompletionInPriorityOrder) {
  RunOptions options;
  options.policy = *PolicySpec::Parse("pct:d=1:ti=0");
  std::set<std::string> orders;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::string log;
    RunResult r = RunSeed(
        [&log](SimContext& ctx) {
          Env& env = ctx.env();
          WaitGroup wg(env);
          for (char name : {'a', 'b', 'c'}) {
            wg.Add();
            DRPC_CHECK_OK(env.scheduler().Spawn(std::string(1, name), [&, name] {
              for (int i = 0; i < 3; ++i) {
                log.push_back(name);
                env.scheduler().Yield();
              }
              wg.Done();
            }));
          }
          wg.Wait();
        },
        seed, options);
    ASSERT_TRUE(r.ok()) << r.message;
    ASSERT_EQ(log.size(), 9u);
    for (size_t i = 0; i < 9; i += 3) {
      EXPECT_EQ(log.substr(i, 3), std::string(3, log[i])) << "seed " << seed << ": " << log;
    }
    orders.insert(log);
  }
  EXPECT_GT(orders.size(), 3u) << "random priorities give different orders";
}

// A fiber a priority policy passes over still sees at most the interleave window of virtual time
// go by before it runs: timers fire ahead of it only while they are due within the window of when
// it became runnable. Without that bound a busy high-priority fiber plus a stream of timers let
// seconds pass, and every time-bounded oracle (a well-behaved call answered within 1 s) failed
// under PCT for a reason no real scheduler has.
TEST(PctPolicyTest, APassedOverFiberWaitsNoLongerThanTheInterleaveWindow) {
  RunOptions options;
  options.policy = *PolicySpec::Parse("pct:d=1:ti=999:tw=1ms");
  int busy_first = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Duration waited = Duration::Zero();
    bool busy_ran_first = false;
    RunResult r = RunSeed(
        [&](SimContext& ctx) {
          Env& env = ctx.env();
          WaitGroup wg(env);
          const Instant start = env.clock().Now();
          bool patient_ran = false;
          wg.Add(2);
          DRPC_CHECK_OK(env.scheduler().Spawn("busy", [&] {
            for (int i = 0; i < 200; ++i) {
              env.clock().ScheduleAt(env.clock().Now() + Duration::Micros(100), [] {});
              if (i == 0) busy_ran_first = !patient_ran;
              env.scheduler().Yield();
            }
            wg.Done();
          }));
          DRPC_CHECK_OK(env.scheduler().Spawn("patient", [&] {
            patient_ran = true;
            waited = env.clock().Now() - start;
            wg.Done();
          }));
          wg.Wait();
        },
        seed, options);
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_LE(waited.nanos(), Duration::Millis(1).nanos()) << "seed " << seed << ": " << waited.ToString();
    busy_first += busy_ran_first ? 1 : 0;
  }
  EXPECT_GT(busy_first, 5) << "the busy fiber must often have the higher priority";
}

TEST(PctPolicyTest, FindsTheRacyCounterAndItsTapeReplaysUnderPct) {
  const ScenarioSpec& spec = *ScenarioRegistry::Find("toy.racy_counter");
  RunOptions options = OptionsFor(spec);
  options.policy = PolicySpec::Pct(2);
  uint64_t found = 0;
  for (uint64_t seed = 1; seed <= 50 && found == 0; ++seed) {
    if (!RunSeed(spec.body, seed, options).ok()) found = seed;
  }
  ASSERT_NE(found, 0u);
  SeededDecisions recording(found, /*record=*/true);
  const RunResult first = RunSimulation(spec.body, recording, options);
  EXPECT_EQ(recording.tape().header.at("policy"), "pct:d=2:ti=30:tw=1ms");
  // Replayed with the swarm's options: the tape's own policy applies.
  TapeDecisions replay(recording.tape());
  const RunResult again = RunSimulation(spec.body, replay, OptionsFor(spec));
  EXPECT_EQ(again.trace_hash, first.trace_hash);
  EXPECT_EQ(again.policy, "pct:d=2:ti=30:tw=1ms");
  EXPECT_EQ(replay.divergences(), 0u) << replay.first_divergence();
}

// --- Timer interleaving ---------------------------------------------------------------------------

// A timer due now and a runnable fiber: which one goes first.
std::string FirstOfTimerAndFiber(DecisionSource& decisions, const PolicySpec& policy) {
  std::string log;
  RunOptions options;
  options.policy = policy;
  RunResult r = RunSimulation(
      [&log](SimContext& ctx) {
        Env& env = ctx.env();
        env.clock().ScheduleAt(env.clock().Now(), [&log] { log += "timer "; });
        WaitGroup wg(env);
        wg.Add();
        DRPC_CHECK_OK(env.scheduler().Spawn("fiber", [&] {
          log += "fiber ";
          wg.Done();
        }));
        wg.Wait();
        SleepFor(env, Duration::Micros(1));
      },
      decisions, options);
  EXPECT_TRUE(r.ok()) << r.message;
  return log;
}

TEST(TimerInterleavingTest, AnswerZeroKeepsFibersAheadOfDueTimers) {
  TapeDecisions zeros{Tape{}};
  EXPECT_EQ(FirstOfTimerAndFiber(zeros, *PolicySpec::Parse("random:ti=999:tw=0")), "fiber timer ");
  EXPECT_GT(zeros.exhausted(), 0u) << "the tape was asked (and answered 0)";
  SeededDecisions seeded(1);
  EXPECT_EQ(FirstOfTimerAndFiber(seeded, *PolicySpec::Parse("random:ti=0")), "fiber timer ");
}

TEST(TimerInterleavingTest, TheTapeCanLetADueTimerInAheadOfARunnableFiber) {
  Tape yes;
  for (int i = 0; i < 8; ++i) yes.decisions.push_back({"sched.timer", 1000, 999});
  TapeDecisions answers(yes);
  EXPECT_EQ(FirstOfTimerAndFiber(answers, *PolicySpec::Parse("random:ti=1:tw=0")), "timer fiber ");
}

// The race the issue names: a waiter is woken (a reply arrives) and, before it runs, its
// cancel — a timer a little later — fires. Only interleaving within the window can order them so.
struct WakeThenCancel {
  bool cancelled_before_run = false;
  Duration woke_at;
};

WakeThenCancel RunWakeThenCancel(uint64_t seed, const PolicySpec& policy) {
  WakeThenCancel out;
  RunOptions options;
  options.policy = policy;
  RunResult r = RunSeed(
      [&out](SimContext& ctx) {
        Env& env = ctx.env();
        WaitList waiters(env);
        bool cancelled = false;
        bool woken = false;
        const Instant t0 = env.clock().Now();
        env.clock().ScheduleAt(t0 + Duration::Micros(100), [&] {
          woken = true;
          waiters.WakeAll();
        });
        env.clock().ScheduleAt(t0 + Duration::Micros(150), [&] { cancelled = true; });
        WaitGroup wg(env);
        wg.Add();
        DRPC_CHECK_OK(env.scheduler().Spawn("waiter", [&] {
          while (!woken) waiters.Wait("waiting for the reply");
          out.cancelled_before_run = cancelled;
          out.woke_at = env.clock().Now() - t0;
          wg.Done();
        }));
        wg.Wait();
        SleepFor(env, Duration::Millis(1));
      },
      seed, options);
  EXPECT_TRUE(r.ok()) << r.message;
  return out;
}

TEST(TimerInterleavingTest, ACancelCanLandBetweenAWakeUpAndTheWokenFibersRun) {
  int interleaved = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const WakeThenCancel off = RunWakeThenCancel(seed, *PolicySpec::Parse("random:ti=0"));
    EXPECT_FALSE(off.cancelled_before_run) << "without interleaving the woken fiber runs first";
    EXPECT_EQ(off.woke_at, Duration::Micros(100));
    const WakeThenCancel on = RunWakeThenCancel(seed, *PolicySpec::Parse("random:ti=500:tw=100us"));
    if (on.cancelled_before_run) {
      ++interleaved;
      EXPECT_EQ(on.woke_at, Duration::Micros(150)) << "time jumped to the cancel's deadline";
    }
    // Outside the window the cancel never comes early.
    EXPECT_FALSE(RunWakeThenCancel(seed, *PolicySpec::Parse("random:ti=999:tw=10us"))
                     .cancelled_before_run);
  }
  EXPECT_GT(interleaved, 5);
  EXPECT_LT(interleaved, 40);
}

}  // namespace
}  // namespace drpc::sim
