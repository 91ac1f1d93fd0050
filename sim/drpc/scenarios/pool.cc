// pool.churn.*: callers lease connections to a few keys from one Pool, call, hold and return them,
// while servers restart behind their keys — sometimes as another server (a new identity on the
// same address: cockroachdb/cockroach#169068) — dials fail, connections fault and idle ones
// expire. Oracles: a lease is only ever answered by the server whose identity it was made with;
// replies are their own requests'; only connection-class errors (and identity refusals); the pool
// never keeps more idle connections than its capacities; after healing a fresh lease works on
// every key; nothing leaks.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/app/pool.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/sync.h"
#include "sim/testing/client_env.h"
#include "sim/drpc/workload_situations.h"
#include "sim/scenario.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

Router NodeRouter(const std::string& identity) {
  Router r;
  r.Unary("/s.S/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
     return std::string(req);
   }).IgnoreError();
  r.Unary("/s.S/Who", [identity](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
     return identity;
   }).IgnoreError();
  return r;
}

// The server at one key: restarts as the same node or, sometimes, as a new one.
struct Node {
  std::string key;
  int incarnation = 0;
  std::string identity;
  std::unique_ptr<Router> router;
  std::unique_ptr<SimServer> server;
};

void Restart(SimContext& ctx, Node& n, bool new_identity, const Options& options) {
  if (n.server != nullptr) n.server->Stop();
  if (new_identity || n.router == nullptr) {
    ++n.incarnation;
    n.identity = absl::StrCat(n.key, "/node-", n.incarnation);
  }
  n.server.reset();
  n.router = std::make_unique<Router>(NodeRouter(n.identity));
  n.server = std::make_unique<SimServer>(ctx, n.key, *n.router, options);
  ctx.Check(n.server->Start().ok(), "node start");
}

void CheckCapacities(SimContext& ctx, const Pool& pool, const PoolOptions& o) {
  const Pool::Stats s = pool.stats();
  ctx.Check(s.idle <= o.capacity, absl::StrCat("pool keeps ", s.idle, " idle > ", o.capacity));
}

// One caller: leases, calls, returns; checks that a lease only ever talks to its own server.
void Caller(SimContext& ctx, Pool& pool, const PoolOptions& options,
            const std::vector<std::string>& keys, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    const std::string& key = keys[ctx.Choose("pool.key", keys.size())];
    CallContext call(ctx.env());
    call.SetTimeout(Duration::Millis(1 + ctx.Choose("pool.deadline_ms", 50)));
    absl::StatusOr<std::unique_ptr<PooledConn>> lease = pool.Get(call, key);
    if (!lease.ok()) {
      const absl::Status& s = lease.status();
      if (absl::IsFailedPrecondition(s)) {
        ctx.Reach(situations::kPoolRefusedADifferentServer);
        pool.Forget(key);  // the operator accepts the new node
      } else {
        ctx.Check(absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s),
                  absl::StrCat("Get: unexpected ", s.ToString()));
      }
      continue;
    }
    const int calls = 1 + static_cast<int>(ctx.Choose("pool.calls", 3));
    for (int c = 0; c < calls; ++c) {
      CallContext one(ctx.env());
      one.SetTimeout(Duration::Millis(50));
      absl::StatusOr<std::string> who = (*lease)->Invoke(one, "/s.S/Who", "");
      if (who.ok()) {
        ctx.Check(*who == (*lease)->identity(),
                  absl::StrCat("a lease made with ", (*lease)->identity(), " reached ", *who));
      } else {
        ctx.Check(absl::IsUnavailable(who.status()) || absl::IsDeadlineExceeded(who.status()),
                  absl::StrCat("Who: unexpected ", who.status().ToString()));
        if ((*lease)->closed().IsSet()) ctx.Reach(situations::kPoolLeaseSawItsConnectionEnd);
      }
      const std::string req = absl::StrCat("req ", i, ".", c);
      absl::StatusOr<std::string> echo = (*lease)->Invoke(one, "/s.S/Echo", req);
      ctx.Check(!echo.ok() || *echo == req, "echo reply of another request");
      SleepFor(ctx.env(), Duration::Micros(ctx.Choose("pool.hold_us", 3000)));
    }
    lease->reset();  // back to the pool (or closed)
    CheckCapacities(ctx, pool, options);
  }
}

void PoolChurn(SimContext& ctx, bool mux) {
  NetworkOptions net;
  net.fault_per_mille = ctx.Chance("pool.net_faults", 500) ? 200 : 0;
  ctx.network().set_options(net);
  Options options;
  options.mux = mux;
  std::vector<Node> nodes(1 + ctx.Choose("pool.keys", 3));
  std::vector<std::string> keys;
  for (size_t k = 0; k < nodes.size(); ++k) {
    nodes[k].key = absl::StrCat("node", k, ":1");
    keys.push_back(nodes[k].key);
    Restart(ctx, nodes[k], /*new_identity=*/true, options);
  }
  FaultyDialer dialer(ctx, {.refuse_per_mille = 100, .slow_per_mille = 200});
  PoolOptions po;
  po.key_capacity = 1 + ctx.Choose("pool.key_capacity", 3);
  po.capacity = po.key_capacity + ctx.Choose("pool.capacity", 4);
  po.idle_expiry = Duration::Millis(1 + ctx.Choose("pool.expiry_ms", 30));
  po.connection = options;
  po.dial_timeout = Duration::Millis(20);
  po.identify = [](ClientConn& c, CallContext& cc, absl::string_view) {
    return c.Invoke(cc, "/s.S/Who", "");
  };
  Pool pool(ctx.env(), dialer, po);
  WaitGroup callers(ctx.env());
  const int caller_count = 1 + static_cast<int>(ctx.Choose("pool.callers", 4));
  for (int c = 0; c < caller_count; ++c) {
    callers.Add();
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn(absl::StrCat("pool caller ", c), [&] {
      Caller(ctx, pool, po, keys, 4 + static_cast<int>(ctx.Choose("pool.rounds", 12)));
      callers.Done();
    }));
  }
  const int restarts = static_cast<int>(ctx.Choose("pool.restarts", 5));
  for (int r = 0; r < restarts; ++r) {
    SleepFor(ctx.env(), Duration::Micros(1 + ctx.Choose("pool.restart_at_us", 20000)));
    Node& n = nodes[ctx.Choose("pool.restart_which", nodes.size())];
    Restart(ctx, n, ctx.Chance("pool.new_identity", 400), options);
  }
  callers.Wait("pool churn: waiting for the callers");
  ctx.network().Heal();
  // After healing: every key serves a lease (accepting whatever node is there now). An idle
  // connection whose server went away may still look healthy until its reset is read, so a few
  // attempts may fail as "closed" first; each such lease is discarded.
  SleepFor(ctx.env(), Duration::Millis(1));
  for (const std::string& key : keys) {
    pool.Forget(key);
    CallContext probe(ctx.env());
    probe.SetTimeout(Duration::Seconds(1));
    absl::Status last = absl::UnknownError("no attempt");
    for (int attempt = 0; attempt < 2 + static_cast<int>(po.capacity) && !last.ok(); ++attempt) {
      absl::StatusOr<std::unique_ptr<PooledConn>> lease = pool.Get(probe, key);
      if (!lease.ok()) {
        last = lease.status();
        continue;
      }
      absl::StatusOr<std::string> r = (*lease)->Invoke(probe, "/s.S/Echo", "probe");
      last = r.status();
      ctx.Check(!r.ok() || *r == "probe", "probe reply");
      ctx.Check(r.ok() || IsClosed(r.status()), absl::StrCat("probe: ", r.status().ToString()));
    }
    ctx.Check(last.ok(), absl::StrCat("no working lease on ", key, " after healing: ",
                                      last.ToString()));
  }
  const Pool::Stats s = pool.stats();
  if (s.hits > 0) ctx.Reach(situations::kPoolReusedAnIdleConnection);
  if (s.expired > 0) ctx.Reach(situations::kPoolIdleConnectionExpired);
  ctx.Check(s.leased == 0, "leases outstanding after every caller returned");
  pool.Close();
  for (Node& n : nodes) n.server->Stop();
}

DRPC_SIM_SCENARIO(pool_churn_upstream, {
    .name = "pool.churn.upstream",
    .description = "a connection pool under churn: leases, restarts behind keys with new "
                   "identities, dial failures, faults, expiry (upstream mode)",
    .body = [](SimContext& ctx) { PoolChurn(ctx, /*mux=*/false); },
    .situations = {situations::kPoolRefusedADifferentServer, situations::kPoolLeaseSawItsConnectionEnd,
                   situations::kPoolReusedAnIdleConnection, situations::kPoolIdleConnectionExpired},
    .default_seeds = 150,
});

DRPC_SIM_SCENARIO(pool_churn_mux, {
    .name = "pool.churn.mux",
    .description = "a connection pool under churn (mux mode)",
    .body = [](SimContext& ctx) { PoolChurn(ctx, /*mux=*/true); },
    .situations = {situations::kPoolRefusedADifferentServer, situations::kPoolLeaseSawItsConnectionEnd,
                   situations::kPoolReusedAnIdleConnection, situations::kPoolIdleConnectionExpired},
    .default_seeds = 150,
});

}  // namespace
}  // namespace drpc::sim
