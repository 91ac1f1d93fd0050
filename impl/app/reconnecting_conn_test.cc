// ReconnectingConn on the simulator: lazy dialing, redialling after a restart, fail-fast and
// wait-for-ready during backoff, the backoff schedule, the only-once mode, on_connect, Close.
#include "impl/app/reconnecting_conn.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "sim/testing/harness.h"
#include "sim/testing/client_env.h"
#include "sim/simulation.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

using sim::SimContext;

constexpr char kAddress[] = "server:1";

void RunSim(const std::function<void(SimContext&)>& body, uint64_t seeds = 5) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    sim::RunOptions options;
    options.trace = {.echo = false, .ring_max_lines = 50};
    sim::RunResult r = sim::RunSeed(body, seed, options);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

// Records when each dial happened.
class RecordingDialer final : public Dialer {
 public:
  explicit RecordingDialer(SimContext& ctx) : ctx_(&ctx), inner_(ctx, sim::DialFaults{}) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override {
    times.push_back(ctx_->now());
    return inner_.Dial(address, deadline);
  }
  std::vector<Instant> times;

 private:
  SimContext* ctx_;
  sim::FaultyDialer inner_;
};

// A dial that never connects: it waits for its deadline.
class HangingDialer final : public Dialer {
 public:
  explicit HangingDialer(SimContext& ctx) : ctx_(&ctx) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override {
    if (deadline > ctx_->now()) SleepFor(ctx_->env(), deadline - ctx_->now(), "hanging dial");
    return absl::DeadlineExceededError(absl::StrCat("dial ", address, ": timed out"));
  }

 private:
  SimContext* ctx_;
};

// A call whose deadline is due while its timer has not fired yet (timers fire when fibers park,
// and in production they fire late) parks until it fires: waiting for a dial must not spin on a
// wait bounded by a deadline already past. Found by //examples/echo:echo_sim_test (sim/world),
// whose late timers left callers looping without ever parking.
TEST(ReconnectingConnTest, ACallWhoseDeadlineIsDueWaitsForItsTimerInsteadOfSpinning) {
  RunSim([&](SimContext& ctx) {
    HangingDialer dialer(ctx);
    ReconnectingConn conn(ctx.env(), dialer, kAddress, ReconnectOptions{});
    CallContext call(ctx.env());
    call.SetDeadline(ctx.now());  // due now; its timer fires once this fiber parks
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "hi");
    ctx.Check(absl::IsDeadlineExceeded(r.status()), r.status().ToString());
    conn.Close();
  });
}

TEST(ReconnectingConnTest, DialsOnTheFirstCallAndReusesTheConnection) {
  const Router echo = testing::EchoRouter();
  RunSim([&](SimContext& ctx) {
    sim::SimServer server(ctx, kAddress, echo, Options{});
    ctx.Check(server.Start().ok(), "start");
    RecordingDialer dialer(ctx);
    ReconnectingConn conn(ctx.env(), dialer, kAddress, ReconnectOptions{});
    ctx.Check(dialer.times.empty(), "nothing dialled before the first call");
    CallContext call(ctx.env());
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "hi");
      ctx.Check(r.ok() && *r == "hi", absl::StrCat("call ", i, ": ", r.status().ToString()));
    }
    ctx.Check(dialer.times.size() == 1 && conn.generation() == 1, "one dial for three calls");
    conn.Close();
    server.Stop();
  });
}

TEST(ReconnectingConnTest, RedialsAfterTheServerRestarts) {
  const Router echo = testing::EchoRouter();
  RunSim([&](SimContext& ctx) {
    sim::SimServer server(ctx, kAddress, echo, Options{});
    ctx.Check(server.Start().ok(), "start");
    RecordingDialer dialer(ctx);
    ReconnectOptions options;
    options.stable_after = Duration::Millis(1);
    ReconnectingConn conn(ctx.env(), dialer, kAddress, options);
    CallContext call(ctx.env());
    ctx.Check(conn.Invoke(call, "/interop.Echo/Unary", "a").ok(), "first call");
    SleepFor(ctx.env(), Duration::Millis(5));
    server.Stop();  // the connection breaks
    SleepFor(ctx.env(), Duration::Millis(1));  // the client's reader sees the reset
    ctx.Check(server.Start().ok(), "restart");
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "b");
    ctx.Check(r.ok() && *r == "b", absl::StrCat("after restart: ", r.status().ToString()));
    ctx.Check(conn.generation() == 2 && dialer.times.size() == 2, "exactly one redial");
    conn.Close();
    server.Stop();
  });
}

TEST(ReconnectingConnTest, FailsFastDuringBackoffAndWaitForReadyWaitsForTheServer) {
  const Router echo = testing::EchoRouter();
  RunSim([&](SimContext& ctx) {
    sim::SimServer server(ctx, kAddress, echo, Options{});
    RecordingDialer dialer(ctx);
    ReconnectOptions fast;
    fast.backoff = {.initial = Duration::Millis(100), .max = Duration::Seconds(1),
                    .jitter_per_mille = 0};
    ReconnectingConn conn(ctx.env(), dialer, kAddress, fast);
    CallContext call(ctx.env());
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "x");
    ctx.Check(absl::IsUnavailable(r.status()) &&
                  absl::StrContains(r.status().message(), "connection refused"),
              absl::StrCat("no server: the dial's error, got ", r.status().ToString()));
    r = conn.Invoke(call, "/interop.Echo/Unary", "x");
    ctx.Check(absl::IsUnavailable(r.status()) &&
                  absl::StrContains(r.status().message(), "reconnecting to server:1 in"),
              absl::StrCat("in backoff: fail fast, got ", r.status().ToString()));
    ctx.Check(dialer.times.size() == 1, "no dial during backoff");

    ReconnectOptions patient = fast;
    patient.wait_for_ready = true;
    ReconnectingConn waiting(ctx.env(), dialer, kAddress, patient);
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("restarts the server", [&] {
      SleepFor(ctx.env(), Duration::Millis(250));
      ctx.Check(server.Start().ok(), "start");
    }));
    CallContext bounded(ctx.env());
    bounded.SetTimeout(Duration::Seconds(5));
    r = waiting.Invoke(bounded, "/interop.Echo/Unary", "y");
    ctx.Check(r.ok() && *r == "y", absl::StrCat("wait_for_ready: ", r.status().ToString()));
    waiting.Close();
    conn.Close();
    server.Stop();
  });
}

TEST(ReconnectingConnTest, FailedDialsBackOffExponentiallyUpToTheCap) {
  const Router echo = testing::EchoRouter();
  RunSim([&](SimContext& ctx) {
    RecordingDialer dialer(ctx);
    ReconnectOptions options;
    options.wait_for_ready = true;
    options.backoff = {.initial = Duration::Millis(10), .max = Duration::Millis(80),
                       .multiplier_per_mille = 2000, .jitter_per_mille = 0};
    ReconnectingConn conn(ctx.env(), dialer, kAddress, options);
    CallContext call(ctx.env());
    call.SetTimeout(Duration::Millis(400));
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "x");
    ctx.Check(absl::IsDeadlineExceeded(r.status()), "no server: the call's deadline");
    // Gaps: 10, 20, 40, 80, 80, ... ms.
    std::vector<int64_t> gaps;
    for (size_t i = 1; i < dialer.times.size(); ++i) {
      gaps.push_back((dialer.times[i] - dialer.times[i - 1]).nanos() / 1'000'000);
    }
    ctx.Check(gaps.size() >= 5 && gaps[0] == 10 && gaps[1] == 20 && gaps[2] == 40 &&
                  gaps[3] == 80 && gaps[4] == 80,
              absl::StrCat("backoff gaps: ", absl::StrJoin(gaps, ",")));
    conn.Close();
  });
}

TEST(ReconnectingConnTest, AConnectionThatDropsAtOnceIsNotRedialledInATightLoop) {
  // A server that accepts and closes immediately: each connection "succeeds" and breaks.
  RunSim([&](SimContext& ctx) {
    absl::StatusOr<std::unique_ptr<Listener>> l = ctx.network().Listen(kAddress);
    ctx.Check(l.ok(), "listen");
    bool stop = false;
    WaitGroup acceptor(ctx.env());
    acceptor.Add();
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("dropping acceptor", [&] {
      while (!stop) {
        absl::StatusOr<std::unique_ptr<Transport>> t = (*l)->Accept();
        if (!t.ok()) break;
        (*t)->Close();
      }
      acceptor.Done();
    }));
    RecordingDialer dialer(ctx);
    ReconnectOptions options;
    options.wait_for_ready = true;
    options.stable_after = Duration::Millis(100);
    options.backoff = {.initial = Duration::Millis(10), .max = Duration::Millis(40),
                       .jitter_per_mille = 0};
    ReconnectingConn conn(ctx.env(), dialer, kAddress, options);
    CallContext call(ctx.env());
    call.SetTimeout(Duration::Millis(300));
    int calls = 0;
    while (!call.done()) {  // every call fails; what matters is how often they made it dial
      ++calls;
      ctx.Check(!conn.Invoke(call, "/interop.Echo/Unary", "x").ok(), "no call can succeed");
    }
    ctx.Check(dialer.times.size() >= 3 && dialer.times.size() <= 12,
              absl::StrCat(calls, " calls dialled ", dialer.times.size(), " times in 300ms"));
    conn.Close();
    stop = true;
    (*l)->Close();
    acceptor.Wait();
  });
}

TEST(ReconnectingConnTest, WithoutReconnectTheFirstBreakClosesIt) {
  const Router echo = testing::EchoRouter();
  RunSim([&](SimContext& ctx) {
    sim::SimServer server(ctx, kAddress, echo, Options{});
    ctx.Check(server.Start().ok(), "start");
    RecordingDialer dialer(ctx);
    ReconnectOptions options;
    options.reconnect = false;
    ReconnectingConn conn(ctx.env(), dialer, kAddress, options);
    CallContext call(ctx.env());
    ctx.Check(conn.Invoke(call, "/interop.Echo/Unary", "a").ok(), "first call");
    server.Stop();
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(server.Start().ok(), "another server at the address");
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "b");
    ctx.Check(IsClosed(r.status()) && conn.closed().IsSet(),
              absl::StrCat("closed for good, got ", r.status().ToString()));
    ctx.Check(dialer.times.size() == 1, "never redialled");
    conn.Close();
    server.Stop();
  });
}

TEST(ReconnectingConnTest, OnConnectRejectsTheWrongServer) {
  Router a = testing::EchoRouter();
  Router b = testing::EchoRouter();
  a.Unary("/id.Id/Who", [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
     return std::string("node-a");
   }).IgnoreError();
  b.Unary("/id.Id/Who", [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
     return std::string("node-b");
   }).IgnoreError();
  RunSim([&](SimContext& ctx) {
    sim::SimServer server_a(ctx, kAddress, a, Options{});
    sim::SimServer server_b(ctx, kAddress, b, Options{});
    ctx.Check(server_a.Start().ok(), "start a");
    RecordingDialer dialer(ctx);
    ReconnectOptions options;
    options.stable_after = Duration::Zero();
    options.on_connect = [](ClientConn& c, CallContext& ctx) -> absl::Status {
      absl::StatusOr<std::string> who = c.Invoke(ctx, "/id.Id/Who", "");
      if (!who.ok()) return who.status();
      if (*who != "node-a") return absl::FailedPreconditionError(absl::StrCat("talking to ", *who));
      return absl::OkStatus();
    };
    ReconnectingConn conn(ctx.env(), dialer, kAddress, options);
    CallContext call(ctx.env());
    ctx.Check(conn.Invoke(call, "/interop.Echo/Unary", "a").ok(), "node-a serves");
    server_a.Stop();
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(server_b.Start().ok(), "node-b takes the address");
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "b");
    ctx.Check(!r.ok() && absl::StrContains(r.status().message(), "talking to node-b"),
              absl::StrCat("node-b refused, got ", r.status().ToString()));
    conn.Close();
    server_b.Stop();
  });
}

TEST(ReconnectingConnTest, CloseEndsCallsWaitingForAConnection) {
  RunSim([&](SimContext& ctx) {
    RecordingDialer dialer(ctx);
    ReconnectOptions options;
    options.wait_for_ready = true;
    ReconnectingConn conn(ctx.env(), dialer, kAddress, options);
    absl::Status seen;
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("waiting caller", [&] {
      CallContext call(ctx.env());
      seen = conn.Invoke(call, "/interop.Echo/Unary", "x").status();
      done.Set();
    }));
    SleepFor(ctx.env(), Duration::Millis(500));
    conn.Close();
    done.Wait("test: waiting for the caller");
    ctx.Check(IsClosed(seen), absl::StrCat("closed, got ", seen.ToString()));
  });
}

TEST(BackoffPolicyTest, JitterStaysWithinItsBoundsAndTheCapHolds) {
  class Fixed final : public RandomSource {
   public:
    explicit Fixed(uint64_t v) : v_(v) {}
    uint64_t Below(uint64_t n) override { return v_ % n; }

   private:
    uint64_t v_;
  };
  BackoffPolicy b{.initial = Duration::Millis(100), .max = Duration::Seconds(1),
                  .multiplier_per_mille = 2000, .jitter_per_mille = 200};
  Fixed low(0), high(2000), mid(1000);
  EXPECT_EQ(b.DelayAfter(1, nullptr), Duration::Millis(100));
  EXPECT_EQ(b.DelayAfter(2, &mid), Duration::Millis(200));
  EXPECT_EQ(b.DelayAfter(1, &low), Duration::Millis(80));
  EXPECT_EQ(b.DelayAfter(1, &high), Duration::Millis(120));
  EXPECT_EQ(b.DelayAfter(50, nullptr), Duration::Seconds(1));
  EXPECT_EQ(b.DelayAfter(1000, &high), Duration::Millis(1200));
  EXPECT_FALSE((BackoffPolicy{.multiplier_per_mille = 999}).Validate().ok());
  EXPECT_FALSE((BackoffPolicy{.jitter_per_mille = 1001}).Validate().ok());
}

TEST(RetryBudgetTest, RetriesStopWhileMostCallsFailAndComeBackWithSuccesses) {
  RetryBudget budget(10, 100);
  EXPECT_TRUE(budget.CanRetry());
  for (int i = 0; i < 5; ++i) budget.OnFailure();
  EXPECT_FALSE(budget.CanRetry());  // 5 of 10 tokens: not more than half
  budget.OnSuccess();
  EXPECT_TRUE(budget.CanRetry());  // 5.1
}

}  // namespace
}  // namespace drpc
