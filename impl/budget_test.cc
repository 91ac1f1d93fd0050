// Server budgets on the simulator: a peer that opens more calls than the server has fibers for,
// or more than its server-wide call budget, gets refused streams with a clear error; the server
// never aborts, the connection and its other calls go on, and everything is served again once the
// calls finish. (Issue 13 finding 1: 32 connections x 1,024 idle mux calls ran the kernel out of
// maps and the server aborted on a stack allocation.)
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

// "/b.B/Hold" (bidi) holds its call until the test releases it; "/b.B/Echo" (unary) echoes;
// "/b.B/Bidi" echoes every message until EOF.
Router BudgetRouter(Signal* release, int* holding) {
  Router r;
  r.Bidi("/b.B/Hold", [release, holding](CallContext& ctx, RpcStream&) -> absl::Status {
     ++*holding;
     const Signal::CallbackId id =
         ctx.done_signal().OnSet([release](const absl::Status&) { release->Set(); });
     release->Wait("test: held call");
     ctx.done_signal().RemoveCallback(id);
     --*holding;
     return absl::OkStatus();
   }).IgnoreError();
  r.Unary("/b.B/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
     return std::string(req);
   }).IgnoreError();
  r.Bidi("/b.B/Bidi", [](CallContext&, RpcStream& s) -> absl::Status {
     for (;;) {
       absl::StatusOr<std::string> m = s.Recv();
       if (IsEof(m.status())) return absl::OkStatus();
       if (!m.ok()) return m.status();
       if (absl::Status st = s.Send(*m); !st.ok()) return st;
     }
   }).IgnoreError();
  return r;
}

// A Server accepting on "server" and the test's client connections, on one simulator.
struct Rig {
  Rig(sim::SimContext& s, const Options& options)
      : sim(s), release(s.env()), router(BudgetRouter(&release, &holding)),
        server(s.env(), router, options), served(s.env()) {
    absl::StatusOr<std::unique_ptr<Listener>> l = s.network().Listen("server");
    DRPC_CHECK_OK(l.status());
    listener = *std::move(l);
    served.Add();
    DRPC_CHECK_OK(s.env().scheduler().Spawn("serve", [this] {
      server.Serve(*listener).IgnoreError();
      served.Done();
    }));
  }
  std::unique_ptr<Conn> Connect(const Options& options) {
    absl::StatusOr<std::unique_ptr<Transport>> t =
        sim.network().Dial("server", Instant::Infinite());
    DRPC_CHECK_OK(t.status());
    absl::StatusOr<std::unique_ptr<Conn>> c = Conn::Create(sim.env(), *std::move(t), options);
    DRPC_CHECK_OK(c.status());
    return *std::move(c);
  }
  // Waits (virtual time) until the server has dealt with `calls` Invokes: running or refused.
  void WaitForServer(uint64_t calls) {
    for (int i = 0; i < 1000 && static_cast<uint64_t>(holding) + server.calls_refused() < calls;
         ++i) {
      SleepFor(sim.env(), Duration::Millis(1), "test: waiting for the server");
    }
    sim.Check(static_cast<uint64_t>(holding) + server.calls_refused() == calls,
              absl::StrCat("server took ", holding, " calls and refused ", server.calls_refused(),
                           " of ", calls));
  }
  void Stop() {
    release.Set();
    server.Shutdown(sim.env().clock().Now() + Duration::Seconds(1));
    served.Wait("test: joining the server");
  }

  sim::SimContext& sim;
  int holding = 0;
  Signal release;
  Router router;
  Server server;
  std::unique_ptr<Listener> listener;
  WaitGroup served;
};

// Opens `n` held calls on `conn` without a fiber per call on the client side.
std::vector<std::shared_ptr<Stream>> OpenHeld(Conn& conn, CallContext& ctx, int n) {
  std::vector<std::shared_ptr<Stream>> out;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::shared_ptr<Stream>> s = conn.OpenStream(ctx, "/b.B/Hold");
    DRPC_CHECK_OK(s.status());
    out.push_back(*std::move(s));
  }
  return out;
}

// How the held streams ended: refused ones already have their Error.
int CountRefused(sim::SimContext& sim, const std::vector<std::shared_ptr<Stream>>& streams,
                 absl::string_view why) {
  int refused = 0;
  for (const std::shared_ptr<Stream>& s : streams) {
    if (!s->terminated()) continue;
    absl::StatusOr<std::string> r = s->Recv();
    sim.Check(absl::IsResourceExhausted(r.status()) &&
                  absl::StrContains(r.status().message(), why),
              absl::StrCat("refused stream ", s->id(), ": ", r.status().ToString()));
    ++refused;
  }
  return refused;
}

Options Mux() {
  Options o;
  o.mux = true;
  return o;
}

sim::RunOptions RunOptionsWith(sim::SimScheduler::Options scheduler) {
  sim::RunOptions o;
  o.scheduler = scheduler;
  // Scripted: "after the budget freed" assumes timers fire only when no fiber is runnable.
  o.policy = sim::PolicySpec::RandomFibersFirst();
  o.trace = {.echo = false, .ring_max_lines = 100};
  return o;
}

// The regression test for the crash: the simulator's stack pool gets one slab of 64 stacks
// (mprotect'ed guards: 128 kernel maps, the whole map budget), far fewer than the calls a client
// opens. The server refuses what it has no fiber for, with a clear error, and recovers.
TEST(BudgetTest, MuxCallsBeyondTheFiberStacksAreRefusedAndTheConnectionLives) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::SimScheduler::Options sched;
    sched.stack_guard = StackPool::Guard::kMprotect;
    sched.mapping_count_max = 128;
    sim::RunResult r = sim::RunSeed(
        [](sim::SimContext& sim) {
          Rig rig(sim, Mux());
          std::unique_ptr<Conn> conn = rig.Connect(Mux());
          CallContext ctx(sim.env());
          constexpr int kCalls = 100;
          std::vector<std::shared_ptr<Stream>> held = OpenHeld(*conn, ctx, kCalls);
          rig.WaitForServer(kCalls);
          const int refused = CountRefused(sim, held, "server busy: no fiber for the call: "
                                                      "out of fiber stacks");
          sim.Check(refused > 0 && rig.holding > 0,
                    absl::StrCat(rig.holding, " held, ", refused, " refused"));
          sim.Check(sim.scheduler().stats().spawns_failed >= static_cast<uint64_t>(refused),
                    "every refusal is a failed spawn");
          sim.Check(!conn->closed().IsSet(), "the connection survives the refusals");
          // The calls end; the same connection is served again.
          rig.release.Set();
          for (const std::shared_ptr<Stream>& s : held) s->Close().IgnoreError();
          CallContext call(sim.env());
          absl::StatusOr<std::string> reply = conn->Invoke(call, "/b.B/Echo", "after");
          sim.Check(reply.ok() && *reply == "after",
                    absl::StrCat("call after the burst: ", reply.status().ToString()));
          held.clear();
          conn->Close();
          rig.Stop();
        },
        seed, RunOptionsWith(sched));
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

// The server-wide call budget refuses new streams on every connection; calls already running on
// other connections go on, and both connections are served again when calls end.
TEST(BudgetTest, MuxCallsBeyondTheServerBudgetAreRefusedAndOtherConnectionsGoOn) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::RunResult r = sim::RunSeed(
        [](sim::SimContext& sim) {
          Options server = Mux();
          server.server_calls_max_count = 8;
          Rig rig(sim, server);
          std::unique_ptr<Conn> a = rig.Connect(Mux());
          std::unique_ptr<Conn> b = rig.Connect(Mux());
          CallContext ctx(sim.env());
          absl::StatusOr<std::shared_ptr<Stream>> bidi = b->OpenStream(ctx, "/b.B/Bidi");
          DRPC_CHECK_OK(bidi.status());
          sim.Check((*bidi)->Send("one").ok(), "bidi send");
          sim.Check((*bidi)->Recv().value_or("") == "one", "bidi runs");  // now it holds a call
          std::vector<std::shared_ptr<Stream>> held = OpenHeld(*a, ctx, 10);
          rig.WaitForServer(10);
          const int refused = CountRefused(sim, held, "server busy: 8 calls are running");
          sim.Check(refused == 3 && rig.holding == 7,
                    absl::StrCat(rig.holding, " held, ", refused, " refused"));
          // B's running call is unaffected; a new call on B is refused too (the budget is
          // server-wide), without harm to B.
          sim.Check((*bidi)->Send("two").ok() && (*bidi)->Recv().value_or("") == "two",
                    "the other connection's call goes on");
          CallContext call(sim.env());
          absl::StatusOr<std::string> busy = b->Invoke(call, "/b.B/Echo", "x");
          sim.Check(absl::IsResourceExhausted(busy.status()) &&
                        absl::StrContains(busy.status().message(), "server busy"),
                    absl::StrCat("call over the budget: ", busy.status().ToString()));
          rig.release.Set();
          for (const std::shared_ptr<Stream>& s : held) s->Close().IgnoreError();
          sim.Check((*bidi)->CloseSend().ok(), "bidi close send");
          sim.Check(IsEof((*bidi)->Recv().status()), "bidi ends");
          for (Conn* c : {a.get(), b.get()}) {
            CallContext again(sim.env());
            absl::StatusOr<std::string> reply = c->Invoke(again, "/b.B/Echo", "after");
            sim.Check(reply.ok() && *reply == "after",
                      absl::StrCat("call after the budget freed: ", reply.status().ToString()));
          }
          sim.Check(rig.server.call_budget().in_use() == 0, "every call gave its budget back");
          held.clear();
          bidi->reset();
          a->Close();
          b->Close();
          rig.Stop();
        },
        seed, RunOptionsWith(sim::SimScheduler::Options{}));
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

// Upstream calls count too: with two calls running on two connections and a budget of two, a
// third connection's call fails with an Error and that connection's next call succeeds.
TEST(BudgetTest, UpstreamCallOverTheServerBudgetFailsAndItsConnectionGoesOn) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::RunResult r = sim::RunSeed(
        [](sim::SimContext& sim) {
          Options server;
          server.server_calls_max_count = 2;
          Rig rig(sim, server);
          std::vector<std::unique_ptr<Conn>> conns;
          for (int i = 0; i < 3; ++i) conns.push_back(rig.Connect(Options{}));
          CallContext ctx(sim.env());
          std::vector<std::shared_ptr<Stream>> held;
          for (int i = 0; i < 2; ++i) {
            std::vector<std::shared_ptr<Stream>> one = OpenHeld(*conns[i], ctx, 1);
            // Upstream corks the Invoke until the first send: a message puts it on the wire.
            sim.Check(one[0]->Send("go").ok(), "held call starts");
            held.push_back(one[0]);
          }
          rig.WaitForServer(2);
          CallContext call(sim.env());
          absl::StatusOr<std::string> busy = conns[2]->Invoke(call, "/b.B/Echo", "x");
          sim.Check(absl::IsResourceExhausted(busy.status()) &&
                        absl::StrContains(busy.status().message(), "server busy: 2 calls"),
                    absl::StrCat("call over the budget: ", busy.status().ToString()));
          sim.Check(rig.server.calls_refused() == 1, "one refusal");
          rig.release.Set();
          for (const std::shared_ptr<Stream>& s : held) s->Close().IgnoreError();
          for (std::unique_ptr<Conn>& c : conns) {
            CallContext again(sim.env());
            absl::StatusOr<std::string> reply = c->Invoke(again, "/b.B/Echo", "after");
            sim.Check(reply.ok() && *reply == "after",
                      absl::StrCat("call after the budget freed: ", reply.status().ToString()));
          }
          held.clear();
          for (std::unique_ptr<Conn>& c : conns) c->Close();
          rig.Stop();
        },
        seed, RunOptionsWith(sim::SimScheduler::Options{}));
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

}  // namespace
}  // namespace drpc
