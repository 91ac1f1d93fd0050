#include "impl/context.h"

#include "gtest/gtest.h"
#include "impl/errors.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

void RunSim(std::function<void(sim::SimContext&)> body) {
  sim::RunResult r = sim::RunSeed(body, 1, sim::RunOptions{});
  ASSERT_TRUE(r.ok()) << sim::FailureClassName(r.failure) << ": " << r.message;
}

TEST(CallContextTest, CancelIsFirstReasonWinsAndWakesWaiters) {
  RunSim([](sim::SimContext& ctx) {
    CallContext c(ctx.env());
    ctx.Check(!c.done() && c.err().ok(), "fresh context is live");
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("canceller", [&] { c.Cancel(); }));
    c.done_signal().Wait("waiting for cancel");
    c.Cancel(DeadlineError());
    ctx.Check(absl::IsCancelled(c.err()) && c.err().message() == "context canceled", c.err().ToString());
  });
}

TEST(CallContextTest, DeadlineFiresAtTheDeadlineAndTheEarlierOneWins) {
  RunSim([](sim::SimContext& ctx) {
    CallContext c(ctx.env());
    const Instant start = ctx.now();
    c.SetTimeout(Duration::Millis(30));
    c.SetTimeout(Duration::Millis(50));  // later: ignored
    c.SetTimeout(Duration::Millis(10));  // earlier: wins
    c.done_signal().Wait("deadline");
    ctx.Check(ctx.now() - start == Duration::Millis(10), "fired at the wrong time");
    ctx.Check(absl::IsDeadlineExceeded(c.err()), c.err().ToString());
  });
}

TEST(CallContextTest, ChildIsDoneWithItsParentsReason) {
  RunSim([](sim::SimContext& ctx) {
    CallContext parent(ctx.env());
    CallContext child(ctx.env(), parent);
    CallContext grandchild(ctx.env(), child);
    parent.Cancel(absl::UnavailableError("server is shutting down"));
    ctx.Check(grandchild.done() && absl::IsUnavailable(grandchild.err()), grandchild.err().ToString());
  });
}

TEST(CallContextTest, CancellingAChildLeavesTheParentAlone) {
  RunSim([](sim::SimContext& ctx) {
    CallContext parent(ctx.env());
    {
      CallContext child(ctx.env(), parent);
      child.Cancel();
    }  // the child's destruction unregisters it from the parent
    ctx.Check(!parent.done(), "parent cancelled by its child");
    parent.Cancel();
  });
}

TEST(CallContextTest, DestroyingAContextCancelsIt) {
  RunSim([](sim::SimContext& ctx) {
    absl::Status seen;
    {
      CallContext c(ctx.env());
      c.done_signal().OnSet([&](const absl::Status& s) { seen = s; });
    }
    ctx.Check(absl::IsCancelled(seen), "a destroyed context must cancel what uses it");
  });
}

TEST(CallContextTest, CancelledDeadlineTimerNeverFires) {
  RunSim([](sim::SimContext& ctx) {
    CallContext c(ctx.env());
    c.SetTimeout(Duration::Millis(5));
    c.Cancel();
    SleepFor(ctx.env(), Duration::Millis(10));
    ctx.Check(absl::IsCancelled(c.err()), "the deadline overwrote the cancel");
  });
}

}  // namespace
}  // namespace drpc
