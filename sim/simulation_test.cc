// Proof that the seam and the simulator work: determinism, exploration, bug finding, replay,
// fault reporting, deadlock/liveness/leak classification.
#include "sim/simulation.h"

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/scenario.h"
#include "sim/toys.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DRPC_SIM_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DRPC_SIM_TEST_SANITIZED 1
#endif

namespace drpc::sim {
namespace {

const ScenarioSpec& Scenario(absl::string_view name) {
  const ScenarioSpec* spec = ScenarioRegistry::Find(name);
  EXPECT_NE(spec, nullptr) << name;
  return *spec;
}

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

TEST(SimulationTest, SameSeedGivesSameTraceHashAndTheTapeReplaysIt) {
  const ScenarioSpec& spec = Scenario("toy.ping_pong");
  const RunOptions options = OptionsFor(spec);
  for (uint64_t seed : {1, 2, 3, 17, 99}) {
    const RunResult a = RunSeed(spec.body, seed, options);
    const RunResult b = RunSeed(spec.body, seed, options);
    ASSERT_TRUE(a.ok()) << a.message;
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.decisions, b.decisions);

    SeededDecisions recording(seed, /*record=*/true);
    const RunResult recorded = RunSimulation(spec.body, recording, options);
    EXPECT_EQ(recorded.trace_hash, a.trace_hash) << "recording changed the run";
    const std::string path = TempPath(absl::StrCat("pp-", seed, ".tape"));
    ASSERT_TRUE(recording.tape().SaveToFile(path).ok());
    absl::StatusOr<Tape> loaded = Tape::LoadFromFile(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    TapeDecisions replay(*std::move(loaded));
    const RunResult replayed = RunSimulation(spec.body, replay, options);
    EXPECT_EQ(replayed.trace_hash, a.trace_hash) << "replaying the tape gave another run";
    EXPECT_EQ(replay.divergences(), 0u) << replay.first_divergence();
    EXPECT_EQ(replay.exhausted(), 0u);
  }
}

// A sweep runs seed after seed on one thread: the next run's scheduler takes the stack slab the
// last one left (StackSlabCache) and explores exactly what a fresh slab would give.
TEST(SimulationTest, ARunTakesTheStackSlabTheLastRunOnItsThreadLeft) {
  const ScenarioSpec& spec = Scenario("toy.ping_pong");
  const RunOptions options = OptionsFor(spec);
  const RunResult first = RunSeed(spec.body, 5, options);
  ASSERT_TRUE(first.ok()) << first.message;
  const size_t parked = SimScheduler::ParkedStackSlabCount();
  ASSERT_GE(parked, 1u) << "the first run's slab was kept";
  size_t parked_while_running = parked;
  const RunResult second = RunSeed(
      [&](SimContext& ctx) {
        parked_while_running = SimScheduler::ParkedStackSlabCount();
        spec.body(ctx);
      },
      5, options);
  ASSERT_TRUE(second.ok()) << second.message;
  EXPECT_EQ(parked_while_running, parked - 1) << "the second run took a parked slab";
  EXPECT_EQ(second.trace_hash, first.trace_hash);
  EXPECT_EQ(SimScheduler::ParkedStackSlabCount(), parked);
}

// glibc keeps what a run freed at the top of its heap for the next run instead of trimming it,
// and serves blocks below kHeapBlockFromMapMinBytes from the heap.
TEST(SimulationTest, FreedHeapMemoryStaysForTheNextRun) {
#if !defined(__GLIBC__) || defined(DRPC_SIM_TEST_SANITIZED)
  GTEST_SKIP() << "glibc's own allocator only";
#else
  KeepFreedMemoryForReuse();
  const size_t bytes = 8 << 20;  // far above glibc's default trim and mmap thresholds
  const struct mallinfo2 before = mallinfo2();
  char* block = static_cast<char*>(std::malloc(bytes));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, bytes);
  EXPECT_EQ(mallinfo2().hblkhd, before.hblkhd) << "the block came from a mapping of its own";
  std::free(block);
  EXPECT_GE(mallinfo2().keepcost, bytes) << "the freed top of the heap went back to the kernel";
#endif
}

TEST(SimulationTest, DifferentSeedsExploreManyInterleavings) {
  const ScenarioSpec& spec = Scenario("toy.interleave");
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    const RunResult r = RunSeed(spec.body, seed, OptionsFor(spec));
    ASSERT_TRUE(r.ok()) << r.message;
    hashes.insert(r.trace_hash);
  }
  std::printf("toy.interleave: %zu distinct trace hashes over 1000 seeds\n", hashes.size());
  // 4 fibers x 3 steps has 12!/(3!^4) = 369600 orders; a random walk should rarely repeat.
  EXPECT_GT(hashes.size(), 900u);
}

TEST(SimulationTest, RacyToyIsFoundAndItsTapeReplaysTheSameFailure) {
  const ScenarioSpec& spec = Scenario("toy.racy_counter");
  const RunOptions options = OptionsFor(spec);
  uint64_t failing_seed = 0;
  RunResult failure;
  for (uint64_t seed = 1; seed <= 50 && failing_seed == 0; ++seed) {
    RunResult r = RunSeed(spec.body, seed, options);
    if (!r.ok()) {
      failing_seed = seed;
      failure = r;
    }
  }
  ASSERT_NE(failing_seed, 0u) << "no lost update within 50 seeds";
  EXPECT_EQ(failure.failure, FailureClass::kCorrectness);
  EXPECT_TRUE(absl::StrContains(failure.message, "lost update")) << failure.message;

  SeededDecisions recording(failing_seed, /*record=*/true);
  ASSERT_EQ(RunSimulation(spec.body, recording, options).trace_hash, failure.trace_hash);
  TapeDecisions replay(recording.tape());
  const RunResult replayed = RunSimulation(spec.body, replay, options);
  EXPECT_EQ(replayed.failure, FailureClass::kCorrectness);
  EXPECT_EQ(replayed.message, failure.message);
  EXPECT_EQ(replayed.trace_hash, failure.trace_hash);
}

TEST(SimulationTest, LockOrderDeadlockIsReportedWithBothFibersAndReasons) {
  const ScenarioSpec& spec = Scenario("toy.lock_order");
  RunResult deadlock;
  for (uint64_t seed = 1; seed <= 50 && deadlock.ok(); ++seed) {
    deadlock = RunSeed(spec.body, seed, OptionsFor(spec));
  }
  ASSERT_EQ(deadlock.failure, FailureClass::kDeadlock) << deadlock.message;
  EXPECT_TRUE(absl::StrContains(deadlock.message, "\"takes A then B\" parked: lock B"))
      << deadlock.message;
  EXPECT_TRUE(absl::StrContains(deadlock.message, "\"takes B then A\" parked: lock A"))
      << deadlock.message;
  EXPECT_TRUE(absl::StrContains(deadlock.message, "\"main\" parked: waiting for both lock takers"))
      << deadlock.message;
}

TEST(SimulationTest, PingPongSurvivesOneBytePiecesAndTinyBuffers) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const RunResult r = RunSeed(
        [](SimContext& ctx) {
          NetworkOptions net;
          net.link.segment_max_bytes = 1 + ctx.Choose("t.seg", 3);
          net.link.cut_reads = true;
          net.link.buffer_bytes = 1 + ctx.Choose("t.buf", 8);
          ctx.network().set_options(net);
          PingPongReport report = RunPingPong(ctx, 3, 300, FaultPlan::None());
          ctx.Check(report.rounds_ok == 3 && !report.first_error.has_value(),
                    "clean exchange failed");
        },
        seed, RunOptions{});
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.message;
  }
}

// Every fault kind at every byte offset of a small exchange: the error is reported, nothing
// hangs, and a fresh connection after healing works.
TEST(SimulationTest, TransportFaultsAtEveryOffsetAreReportedNeverHang) {
  const FaultPlan::Kind kinds[] = {FaultPlan::Kind::kReset, FaultPlan::Kind::kFin,
                                   FaultPlan::Kind::kWriteError, FaultPlan::Kind::kReadError,
                                   FaultPlan::Kind::kStall};
  // 2 rounds of a 10-byte ping (4 + 10 bytes forward) and its pong (4 + 15 bytes backward).
  constexpr uint64_t kForwardBytes = 28;
  constexpr uint64_t kBackwardBytes = 38;
  int errors = 0;
  for (FaultPlan::Kind kind : kinds) {
    for (Direction dir : {Direction::kForward, Direction::kBackward}) {
      const uint64_t exchange_bytes = dir == Direction::kForward ? kForwardBytes : kBackwardBytes;
      for (uint64_t offset = 0; offset <= exchange_bytes; ++offset) {
        FaultPlan plan{kind, dir, offset, Duration::Millis(5)};
        bool saw_error = false;
        const RunResult r = RunSeed(
            [&](SimContext& ctx) {
              NetworkOptions net;
              net.link.segment_max_bytes = 3;
              ctx.network().set_options(net);
              PingPongReport report = RunPingPong(ctx, 2, 10, plan);
              saw_error = report.first_error.has_value();
            },
            offset, RunOptions{});
        ASSERT_TRUE(r.ok()) << plan.ToString() << ": " << r.message;
        const bool must_fail = kind != FaultPlan::Kind::kStall && offset < exchange_bytes;
        EXPECT_EQ(saw_error, must_fail) << plan.ToString();
        errors += saw_error;
      }
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(SimulationTest, TimeLimitIsALivenessFailure) {
  RunOptions options;
  options.time_limit = Duration::Seconds(1);
  const RunResult r = RunSeed(
      [](SimContext& ctx) { SleepFor(ctx.env(), Duration::Seconds(5), "sleeping too long"); }, 1,
      options);
  EXPECT_EQ(r.failure, FailureClass::kLiveness);
  EXPECT_TRUE(absl::StrContains(r.message, "sleeping too long")) << r.message;
}

TEST(SimulationTest, YieldingForeverIsALivelock) {
  RunOptions options;
  options.step_limit = 1000;
  const RunResult r = RunSeed(
      [](SimContext& ctx) {
        for (;;) ctx.env().scheduler().Yield();
      },
      1, options);
  EXPECT_EQ(r.failure, FailureClass::kLiveness);
  EXPECT_TRUE(absl::StrContains(r.message, "livelock")) << r.message;
}

TEST(SimulationTest, UnclosedTransportAndParkedFiberAreLeaks) {
  const RunResult r = RunSeed(
      [&](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe("leaky");
        // Neither end is closed; both belong to the parked fiber, so they stay reachable in the
        // frozen run (which is never torn down).
        Transport* dialer = a.release();
        Transport* peer = b.release();
        DRPC_CHECK_OK(ctx.env().scheduler().Spawn("forgotten reader", [dialer, peer] {
          char c;
          (void)peer->Read(&c, 1);
          (void)dialer;
        }));
      },
      1, RunOptions{});
  EXPECT_EQ(r.failure, FailureClass::kLeak);
  EXPECT_TRUE(absl::StrContains(r.message, "\"forgotten reader\" parked: net read")) << r.message;
  EXPECT_TRUE(absl::StrContains(r.message, "leaky#1:dialer never closed")) << r.message;
}

// A killed fiber (a simulated process crash) never runs again, whether it was parked, runnable
// or the caller; Unpark ignores it; and the run ends without a leak or deadlock report.
TEST(SimulationTest, KilledFibersNeverRunAgainAndAreNotLeaks) {
  int parked_resumed = 0, runnable_ran = 0, self_after_kill = 0;
  const RunResult r = RunSeed(
      [&](SimContext& ctx) {
        SimScheduler& sched = ctx.scheduler();
        Fiber* parked = nullptr;
        Fiber* runnable = nullptr;
        DRPC_CHECK_OK(sched.Spawn("parked", [&] {
          parked = sched.Current();
          sched.Park("waiting for ever");
          ++parked_resumed;
        }));
        sched.Yield();  // "parked" may not have run yet: wait until it has parked
        while (parked == nullptr) sched.Yield();
        DRPC_CHECK_OK(sched.Spawn("runnable", [&] {
          runnable = sched.Current();
          sched.Yield();
          ++runnable_ran;
        }));
        while (runnable == nullptr) sched.Yield();
        DRPC_CHECK_OK(sched.Spawn("suicidal", [&] {
          sched.Kill(sched.Current());
          ++self_after_kill;
        }));
        sched.Kill(parked);
        sched.Kill(runnable);
        sched.Unpark(parked);  // ignored
        SleepFor(ctx.env(), Duration::Millis(1));
        ctx.Check(sched.ParkedFibers().empty(), "killed fibers are not parked");
      },
      // FIFO: "runnable" yields back to main before its increment, whatever the seed.
      1, RunOptions{.policy = PolicySpec::Fifo()});
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(parked_resumed, 0);
  EXPECT_EQ(runnable_ran, 0);
  EXPECT_EQ(self_after_kill, 0);
}

TEST(SimulationTest, FuzzerBytesDriveDecisionsAndExhaustedInputUsesDefaults) {
  const ScenarioSpec& spec = Scenario("toy.ping_pong");
  for (const std::string& input : {std::string(), std::string("\x01\x02\x03"),
                                   std::string(64, '\xff')}) {
    ByteDecisions a(input), b(input);
    const RunResult ra = RunSimulation(spec.body, a, OptionsFor(spec));
    const RunResult rb = RunSimulation(spec.body, b, OptionsFor(spec));
    EXPECT_TRUE(ra.ok()) << ra.message;
    EXPECT_EQ(ra.trace_hash, rb.trace_hash);
    if (input.size() < 8) {
      EXPECT_TRUE(a.exhausted());
    }
  }
}

TEST(SimulationTest, FailingCheckInsideAFiberStopsTheRunAtOnce) {
  bool continued = false;
  const RunResult r = RunSeed(
      [&](SimContext& ctx) {
        ctx.Check(false, "oracle says no");
        continued = true;
      },
      1, RunOptions{});
  EXPECT_EQ(r.failure, FailureClass::kCorrectness);
  EXPECT_EQ(r.message, "oracle says no");
  EXPECT_FALSE(continued);
}

// A failed DRPC_CHECK inside a run prints the replay command and exits with the crash code 14
// (tools/sim's documented exit code), or aborts when a harness asks for a signal instead.
TEST(SimulationTest, FailedCheckExitsWithTheCrashCodeAfterPrintingTheReplayCommand) {
  auto crash = [](SimContext& ctx) {
    ctx.env().scheduler().Yield();
    DRPC_CHECK(ctx.now() < Instant()) << "deliberate";
  };
  RunOptions options;
  options.replay_command = "replay-me --seed=1";
  EXPECT_EXIT(RunSeed(crash, 1, options), testing::ExitedWithCode(14),
              "CHECK failed: .*deliberate(.|\n)*replay: replay-me --seed=1");
  options.exit_on_crash = false;
  EXPECT_EXIT(RunSeed(crash, 1, options), testing::KilledBySignal(SIGABRT),
              "replay: replay-me --seed=1");
}

}  // namespace
}  // namespace drpc::sim
