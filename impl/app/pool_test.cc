// Pool on the simulator: reuse per key, capacities, idle expiry, only healthy connections handed
// out, late returns after Close, and the defence against a different server behind a key
// (cockroachdb/cockroach#169068).
#include "impl/app/pool.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "sim/testing/harness.h"
#include "sim/testing/client_env.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

using sim::SimContext;

void RunSim(const std::function<void(SimContext&)>& body, uint64_t seeds = 5) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    sim::RunOptions options;
    options.trace = {.echo = false, .ring_max_lines = 50};
    sim::RunResult r = sim::RunSeed(body, seed, options);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

Router NamedRouter(std::string name, int* calls) {
  Router r = testing::EchoRouter();
  r.Unary("/id.Id/Who", [name, calls](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
     ++*calls;
     return name;
   }).IgnoreError();
  return r;
}

std::unique_ptr<PooledConn> MustGet(SimContext& ctx, Pool& pool, CallContext& call,
                                    absl::string_view key) {
  absl::StatusOr<std::unique_ptr<PooledConn>> lease = pool.Get(call, key);
  ctx.Check(lease.ok(), absl::StrCat("Get ", key, ": ", lease.status().ToString()));
  return *std::move(lease);
}

TEST(PoolTest, AReturnedConnectionIsReusedForItsKeyOnly) {
  int calls = 0;
  const Router r = NamedRouter("x", &calls);
  RunSim([&](SimContext& ctx) {
    sim::SimServer a(ctx, "a:1", r, Options{}), b(ctx, "b:1", r, Options{});
    ctx.Check(a.Start().ok() && b.Start().ok(), "start");
    sim::FaultyDialer dialer(ctx, {});
    Pool pool(ctx.env(), dialer, PoolOptions{});
    CallContext call(ctx.env());
    std::unique_ptr<PooledConn> first = MustGet(ctx, pool, call, "a:1");
    const uint64_t id = first->connection_id();
    ctx.Check(first->Invoke(call, "/interop.Echo/Unary", "1").ok(), "call on the lease");
    first.reset();  // back to the pool
    std::unique_ptr<PooledConn> again = MustGet(ctx, pool, call, "a:1");
    ctx.Check(again->connection_id() == id, "the idle connection of a:1 is reused");
    std::unique_ptr<PooledConn> other = MustGet(ctx, pool, call, "b:1");
    ctx.Check(other->connection_id() != id, "another key dials its own");
    const Pool::Stats s = pool.stats();
    ctx.Check(s.hits == 1 && s.misses == 2 && s.leased == 2 && dialer.stats().dials == 2,
              absl::StrCat("hits ", s.hits, " misses ", s.misses));
    again.reset();
    other.reset();
    pool.Close();
    a.Stop();
    b.Stop();
  });
}

TEST(PoolTest, CapacitiesCloseTheOldestIdleConnections) {
  int calls = 0;
  const Router r = NamedRouter("x", &calls);
  RunSim([&](SimContext& ctx) {
    sim::SimServer a(ctx, "a:1", r, Options{}), b(ctx, "b:1", r, Options{});
    ctx.Check(a.Start().ok() && b.Start().ok(), "start");
    sim::FaultyDialer dialer(ctx, {});
    Pool pool(ctx.env(), dialer, PoolOptions{.key_capacity = 2, .capacity = 3});
    CallContext call(ctx.env());
    std::vector<std::unique_ptr<PooledConn>> leases;
    for (int i = 0; i < 3; ++i) leases.push_back(MustGet(ctx, pool, call, "a:1"));
    const uint64_t oldest = leases[0]->connection_id();
    leases.clear();  // three returns for a key that keeps two: the first one returned goes
    ctx.Check(pool.stats().idle == 2 && pool.stats().evicted == 1, "key capacity 2");
    std::vector<std::unique_ptr<PooledConn>> more;
    for (int i = 0; i < 2; ++i) more.push_back(MustGet(ctx, pool, call, "b:1"));
    more.clear();  // 2 (a) + 2 (b) > 3 in all: the oldest of a goes
    ctx.Check(pool.stats().idle == 3 && pool.stats().evicted == 2, "capacity 3");
    std::unique_ptr<PooledConn> reused = MustGet(ctx, pool, call, "a:1");
    ctx.Check(reused->connection_id() != oldest, "evicted connections are never handed out");
    reused.reset();
    pool.Close();
    a.Stop();
    b.Stop();
  });
}

TEST(PoolTest, IdleConnectionsExpire) {
  int calls = 0;
  const Router r = NamedRouter("x", &calls);
  RunSim([&](SimContext& ctx) {
    sim::SimServer a(ctx, "a:1", r, Options{});
    ctx.Check(a.Start().ok(), "start");
    sim::FaultyDialer dialer(ctx, {});
    Pool pool(ctx.env(), dialer, PoolOptions{.idle_expiry = Duration::Millis(100)});
    CallContext call(ctx.env());
    MustGet(ctx, pool, call, "a:1").reset();
    SleepFor(ctx.env(), Duration::Millis(50));
    ctx.Check(pool.stats().idle == 1, "still idle before the expiry");
    SleepFor(ctx.env(), Duration::Millis(60));
    ctx.Check(pool.stats().idle == 0 && pool.stats().expired == 1, "expired");
    MustGet(ctx, pool, call, "a:1").reset();
    ctx.Check(dialer.stats().dials == 2, "an expired connection is dialled again");
    pool.Close();
    a.Stop();
  });
}

TEST(PoolTest, AConnectionThatBrokeWhileIdleIsNeverHandedOut) {
  int calls = 0;
  const Router r = NamedRouter("x", &calls);
  RunSim([&](SimContext& ctx) {
    sim::SimServer a(ctx, "a:1", r, Options{});
    ctx.Check(a.Start().ok(), "start");
    sim::FaultyDialer dialer(ctx, {});
    Pool pool(ctx.env(), dialer, PoolOptions{});
    CallContext call(ctx.env());
    MustGet(ctx, pool, call, "a:1").reset();
    a.Stop();  // the idle connection breaks
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(a.Start().ok(), "restart");
    std::unique_ptr<PooledConn> lease = MustGet(ctx, pool, call, "a:1");
    absl::StatusOr<std::string> reply = lease->Invoke(call, "/interop.Echo/Unary", "ok");
    ctx.Check(reply.ok(), absl::StrCat("a fresh connection: ", reply.status().ToString()));
    ctx.Check(pool.stats().discarded == 1, "the broken one was discarded");
    lease.reset();
    pool.Close();
    a.Stop();
  });
}

TEST(PoolTest, ALeaseReturnedAfterCloseIsClosedNotCached) {
  int calls = 0;
  const Router r = NamedRouter("x", &calls);
  RunSim([&](SimContext& ctx) {
    sim::SimServer a(ctx, "a:1", r, Options{});
    ctx.Check(a.Start().ok(), "start");
    sim::FaultyDialer dialer(ctx, {});
    auto pool = std::make_unique<Pool>(ctx.env(), dialer, PoolOptions{});
    CallContext call(ctx.env());
    std::unique_ptr<PooledConn> lease = MustGet(ctx, *pool, call, "a:1");
    pool->Close();
    ctx.Check(IsClosed(pool->Get(call, "a:1").status()), "Get after Close");
    pool.reset();  // the lease outlives the Pool object
    ctx.Check(lease->Invoke(call, "/interop.Echo/Unary", "still").ok(), "the lease still works");
    lease.reset();  // a late return: closed (the simulator's leak check would see it otherwise)
    SleepFor(ctx.env(), Duration::Millis(1));
    a.Stop();
  });
}

// cockroachdb/cockroach#169068: the server behind an address dies and another takes its port.
TEST(PoolTest, ALeaseNeverReachesADifferentServerBehindItsKey) {
  int calls_a = 0, calls_b = 0;
  const Router ra = NamedRouter("node-a", &calls_a);
  const Router rb = NamedRouter("node-b", &calls_b);
  RunSim([&](SimContext& ctx) {
    sim::SimServer a(ctx, "n:1", ra, Options{}), b(ctx, "n:1", rb, Options{});
    ctx.Check(a.Start().ok(), "start a");
    sim::FaultyDialer dialer(ctx, {});
    PoolOptions options;
    options.identify = [](ClientConn& c, CallContext& ctx,
                          absl::string_view) -> absl::StatusOr<std::string> {
      return c.Invoke(ctx, "/id.Id/Who", "");
    };
    Pool pool(ctx.env(), dialer, options);
    CallContext call(ctx.env());
    std::unique_ptr<PooledConn> lease = MustGet(ctx, pool, call, "n:1");
    ctx.Check(lease->identity() == "node-a", "pinned node-a");
    a.Stop();
    ctx.Check(b.Start().ok(), "node-b takes the port");
    const int b_before = calls_b;
    absl::StatusOr<std::string> r = lease->Invoke(call, "/id.Id/Who", "");
    ctx.Check(IsClosed(r.status()) && lease->closed().IsSet(),
              absl::StrCat("the lease reports the break, got ", r.status().ToString()));
    ctx.Check(calls_b == b_before, "node-b never saw a call on the old lease");
    absl::StatusOr<std::unique_ptr<PooledConn>> next = pool.Get(call, "n:1");
    ctx.Check(absl::IsFailedPrecondition(next.status()) &&
                  absl::StrContains(next.status().message(), "node-b"),
              absl::StrCat("a new lease refuses node-b, got ", next.status().ToString()));
    ctx.Check(pool.stats().identity_mismatches == 1, "counted");
    pool.Forget("n:1");
    std::unique_ptr<PooledConn> accepted = MustGet(ctx, pool, call, "n:1");
    ctx.Check(accepted->identity() == "node-b", "after Forget node-b is accepted");
    lease.reset();
    accepted.reset();
    pool.Close();
    b.Stop();
  });
}

}  // namespace
}  // namespace drpc
