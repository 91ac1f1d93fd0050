// The World: nodes serving and calling each other, partitions (both ways, one way, dials across
// them), crashes (from outside and from within) and restarts with kept state, invariants,
// Eventually, the stop's leak check, and replay.
#include "sim/world/world.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/testing/echo_service.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

void EchoServer(Node& node) {
  Router& router = node.Make<Router>(testing::EchoRouter());
  DRPC_CHECK_OK(node.Serve(router));
}

absl::StatusOr<std::string> Echo(Node& node, ClientConn& conn, absl::string_view text,
                                 Duration timeout) {
  CallContext ctx(node.env(), node.context());
  ctx.SetTimeout(timeout);
  return conn.Invoke(ctx, "/interop.Echo/Unary", text);
}

RunResult RunIt(const std::function<void(World&)>& scenario, uint64_t seed = 1,
              WorldOptions options = WorldOptions{}) {
  SeededDecisions decisions(seed);
  RunOptions run;
  run.trace = {.echo = false, .ring_max_lines = 60};
  return RunWorld(scenario, decisions, options, run);
}

TEST(WorldTest, NodesCallEachOtherAndTheWorldEndsClean) {
  for (bool mux : {false, true}) {
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      std::string got;
      WorldOptions options;
      options.drpc.mux = mux;
      const RunResult r = RunIt(
          [&](World& world) {
            world.AddNode("server", EchoServer);
            world.Sleep(Duration::Millis(1));  // serving before the client dials
            world.AddNode("client", [&](Node& node) {
              ClientConn& conn = node.Connect("server");
              DRPC_CHECK_OK(node.Go("caller", [&] {
                absl::StatusOr<std::string> reply = Echo(node, conn, "hello", Duration::Seconds(5));
                got = reply.ok() ? *reply : reply.status().ToString();
              }));
            });
            world.Eventually("the reply", [&] { return !got.empty(); }, Duration::Seconds(5));
          },
          seed, options);
      ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.message << "\n" << r.trace_tail;
      EXPECT_EQ(got, "hello");
    }
  }
}

// A call across a cut link stalls until its deadline; one that outlives the cut completes once it
// heals (its bytes were held, not lost). Mux mode: the short call's cancel must not end the
// connection the long call shares (upstream's hard cancel would).
TEST(WorldTest, ACutHoldsBytesUntilItHeals) {
  WorldOptions options;
  options.drpc.mux = true;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    absl::Status short_call;
    std::string long_reply;
    Instant long_done;
    Instant healed_at;
    const RunResult r = RunIt(
        [&](World& world) {
          world.AddNode("server", EchoServer);
          Node& client = world.AddNode("client", [](Node&) {});
          ClientConn* conn = nullptr;
          world.Sleep(Duration::Millis(1));
          DRPC_CHECK_OK(client.Go("connect", [&] {
            conn = &client.Connect("server");
            DRPC_CHECK_OK(Echo(client, *conn, "warm", Duration::Seconds(5)).status());
          }));
          world.Eventually("connected", [&] { return conn != nullptr; }, Duration::Seconds(5));
          world.Sleep(Duration::Millis(10));
          world.Cut("client", "server");
          DRPC_CHECK_OK(client.Go("short", [&] {
            short_call = Echo(client, *conn, "short", Duration::Millis(20)).status();
          }));
          DRPC_CHECK_OK(client.Go("long", [&] {
            absl::StatusOr<std::string> reply = Echo(client, *conn, "long", Duration::Seconds(10));
            long_reply = reply.ok() ? *reply : reply.status().ToString();
            long_done = client.env().clock().Now();
          }));
          world.Sleep(Duration::Millis(100));
          world.Check(long_reply.empty(), "a reply crossed a cut link: " + long_reply);
          healed_at = world.Now();
          world.HealAll();
          world.Eventually("the long call ends", [&] { return !long_reply.empty(); },
                           Duration::Seconds(5));
        },
        seed, options);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.message << "\n" << r.trace_tail;
    EXPECT_TRUE(absl::IsDeadlineExceeded(short_call)) << short_call;
    EXPECT_EQ(long_reply, "long");
    EXPECT_GE(long_done, healed_at);
  }
}

// One way: requests reach the server, replies are held; new connections cannot be made.
TEST(WorldTest, AOneWayCutHoldsOnlyItsDirectionAndDialsTimeOut) {
  absl::Status dial;
  std::string reply_text;
  const RunResult r = RunIt([&](World& world) {
    world.AddNode("server", EchoServer);
    Node& client = world.AddNode("client", [](Node&) {});
    world.Sleep(Duration::Millis(1));
    world.CutOneWay("server", "client");
    EXPECT_TRUE(world.IsCut("server", "client"));
    EXPECT_FALSE(world.IsCut("client", "server"));
    bool done = false;
    DRPC_CHECK_OK(client.Go("dial", [&] {
      dial = client.dialer().Dial("server", Instant::Infinite()).status();
      done = true;
    }));
    world.Eventually("the dial gives up", [&] { return done; }, Duration::Seconds(5));
    world.HealAll();
    // A connection made while healed, then cut one way: the request arrives, the reply waits.
    ClientConn* conn = nullptr;
    done = false;
    DRPC_CHECK_OK(client.Go("call", [&] {
      conn = &client.Connect("server");
      DRPC_CHECK_OK(Echo(client, *conn, "warm", Duration::Seconds(5)).status());
      done = true;
    }));
    world.Eventually("warm", [&] { return done; }, Duration::Seconds(5));
    world.CutOneWay("server", "client");
    DRPC_CHECK_OK(client.Go("held", [&] {
      absl::StatusOr<std::string> reply = Echo(client, *conn, "held", Duration::Seconds(10));
      reply_text = reply.ok() ? *reply : reply.status().ToString();
    }));
    world.Sleep(Duration::Millis(50));
    world.Check(reply_text.empty(), "a reply crossed the cut direction");
    world.HealAll();
    world.Eventually("the held reply", [&] { return !reply_text.empty(); }, Duration::Seconds(5));
  });
  ASSERT_TRUE(r.ok()) << r.message << "\n" << r.trace_tail;
  EXPECT_TRUE(absl::IsDeadlineExceeded(dial)) << dial;
  EXPECT_TRUE(absl::StrContains(dial.message(), "the link is cut")) << dial;
  EXPECT_EQ(reply_text, "held");
}

// A crashed server's clients see their calls end; the restarted server (start ran again, with the
// state the test kept) serves them again after they reconnect. The crashed life's fibers are not
// leaks.
TEST(WorldTest, ACrashEndsConnectionsAndARestartRebootsWithKeptState) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    int disk_boots = 0;  // "durable" state: the test keeps it outside the node
    absl::Status during_crash;
    std::string after_restart;
    int boots_seen = 0;
    const RunResult r = RunIt(
        [&](World& world) {
          world.AddNode("server", [&](Node& node) {
            ++disk_boots;
            boots_seen = node.boots();
            EchoServer(node);
          });
          Node& client = world.AddNode("client", [](Node&) {});
          world.Sleep(Duration::Millis(1));
          ClientConn* conn = nullptr;
          DRPC_CHECK_OK(client.Go("connect", [&] {
            conn = &client.Connect("server");
            DRPC_CHECK_OK(Echo(client, *conn, "warm", Duration::Seconds(5)).status());
          }));
          world.Eventually("connected", [&] { return conn != nullptr; }, Duration::Seconds(5));
          world.Sleep(Duration::Millis(5));
          bool slow_done = false;
          DRPC_CHECK_OK(client.Go("slow", [&] {
            CallContext ctx(client.env(), client.context());
            ctx.SetTimeout(Duration::Seconds(5));
            during_crash = conn->Invoke(ctx, "/interop.Echo/Slow", "").status();
            slow_done = true;
          }));
          world.Sleep(Duration::Millis(5));
          world.Crash("server");
          EXPECT_FALSE(world.node("server").up());
          world.Eventually("the slow call ends", [&] { return slow_done; }, Duration::Seconds(1));
          world.Restart("server");
          bool retried = false;
          DRPC_CHECK_OK(client.Go("after", [&] {
            for (int i = 0; i < 50 && after_restart.empty(); ++i) {
              absl::StatusOr<std::string> reply = Echo(client, *conn, "again", Duration::Millis(200));
              if (reply.ok()) after_restart = *reply;
              SleepFor(client.env(), Duration::Millis(100));
            }
            retried = true;
          }));
          world.Eventually("the client got through", [&] { return retried; }, Duration::Seconds(10));
        },
        seed);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.message << "\n" << r.trace_tail;
    EXPECT_FALSE(during_crash.ok());
    EXPECT_FALSE(absl::IsDeadlineExceeded(during_crash)) << "the crash must end the call, not its deadline: " << during_crash;
    EXPECT_EQ(after_restart, "again");
    EXPECT_EQ(disk_boots, 2);
    EXPECT_EQ(boots_seen, 2);
  }
}

TEST(WorldTest, ANodeMayCrashItselfFromItsOwnFiber) {
  int after = 0;
  const RunResult r = RunIt([&](World& world) {
    world.AddNode("server", EchoServer);
    Node& n = world.AddNode("suicidal", [&](Node& node) {
      DRPC_CHECK_OK(node.Go("crash", [&] {
        node.world().Crash("suicidal");
        ++after;
      }));
    });
    world.Eventually("down", [&] { return !n.up(); }, Duration::Seconds(1));
  });
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(after, 0);
}

TEST(WorldTest, ABrokenInvariantFailsTheRunWithItsName) {
  const RunResult r = RunIt([&](World& world) {
    int writes = 0;
    world.AddInvariant("at most 3 writes", [&]() -> absl::Status {
      return writes <= 3 ? absl::OkStatus() : absl::FailedPreconditionError(absl::StrCat(writes, " writes"));
    });
    world.AddNode("writer", [&](Node& node) {
      DRPC_CHECK_OK(node.Go("loop", [&] {
        while (!node.context().done()) {
          ++writes;
          SleepFor(node.env(), Duration::Millis(1));
        }
      }));
    });
    world.Sleep(Duration::Millis(20));
  });
  EXPECT_EQ(r.failure, FailureClass::kCorrectness) << r.message;
  EXPECT_TRUE(absl::StrContains(r.message, "invariant \"at most 3 writes\" broken during the run: 4 writes"))
      << r.message;
}

TEST(WorldTest, EventuallyFailsAsLivenessNamingWhatAndTheCut) {
  const RunResult r = RunIt([&](World& world) {
    world.AddNode("a", [](Node&) {});
    world.AddNode("b", [](Node&) {});
    world.Cut("a", "b");
    world.Eventually("pigs fly", [] { return false; }, Duration::Millis(10));
  });
  EXPECT_EQ(r.failure, FailureClass::kLiveness) << r.message;
  EXPECT_TRUE(absl::StrContains(r.message, "not within 10ms: pigs fly (cut: a->b, b->a)")) << r.message;
}

// A node fiber that ignores the node's stop is a leak, named.
TEST(WorldTest, AFiberThatOutlivesItsNodesStopIsALeak) {
  WorldOptions options;
  options.liveness_bound = Duration::Millis(100);
  const RunResult r = RunIt(
      [&](World& world) {
        world.AddNode("stubborn", [](Node& node) {
          DRPC_CHECK_OK(node.Go("forever", [&node] {
            for (;;) SleepFor(node.env(), Duration::Millis(10), "ignoring the stop");
          }));
        });
      },
      1, options);
  EXPECT_EQ(r.failure, FailureClass::kLeak) << r.message;
  EXPECT_TRUE(absl::StrContains(r.message, "node stubborn: 1 fiber(s) still running")) << r.message;
}

// A node's clean stop cancels the timers its life still has pending (the Env's deferred memory
// trim is one nothing else cancels): the scheduler runs on after the node is gone, and such a
// timer firing then would run in a destroyed life.
TEST(WorldTest, ATimerPendingAtANodesCleanStopNeverFires) {
  auto fired = std::make_shared<bool>(false);
  const RunResult r = RunIt([&](World& world) {
    world.AddNode("sleeper", [fired](Node& node) {
      Clock& clock = node.env().clock();
      clock.ScheduleAt(clock.Now() + Duration::Seconds(1), [fired] { *fired = true; });
    });
    world.Sleep(Duration::Millis(1));
  });
  ASSERT_TRUE(r.ok()) << r.message << "\n" << r.trace_tail;
  EXPECT_FALSE(*fired) << "a timer of a stopped node fired";
}

TEST(WorldTest, SameSeedSameRunAndTheTapeReplaysIt) {
  auto scenario = [](World& world) {
    world.AddNode("server", EchoServer);
    world.Sleep(Duration::Millis(1));
    world.AddNode("client", [](Node& node) {
      ClientConn& conn = node.Connect("server");
      DRPC_CHECK_OK(node.Go("caller", [&node, &conn] {
        for (int i = 0; i < 5; ++i) (void)Echo(node, conn, absl::StrCat("m", i), Duration::Millis(50));
      }));
    });
    if (world.Chance("test.cut", 500)) world.Cut("client", "server");
    world.Sleep(Duration::Millis(30));
    world.HealAll();
    world.Sleep(Duration::Millis(300));
  };
  WorldOptions options;
  options.connection_fault_per_mille = 300;
  SeededDecisions recording(7, /*record=*/true);
  const RunResult first = RunWorld(scenario, recording, options);
  SeededDecisions again(7);
  const RunResult second = RunWorld(scenario, again, options);
  TapeDecisions replay(recording.tape());
  const RunResult replayed = RunWorld(scenario, replay, options);
  ASSERT_TRUE(first.ok()) << first.message;
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_EQ(first.trace_hash, replayed.trace_hash);
  EXPECT_EQ(replay.divergences(), 0u);
}

}  // namespace
}  // namespace drpc::sim
