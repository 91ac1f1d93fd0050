// Client-side scenarios: reconnecting clients with interceptors through dial failures, server
// restarts and connection faults (client.reconnect_storm.*), and a connection pool under churn
// with servers replaced behind their keys (pool.churn.*). Oracles: every reply is its own
// request's; only connection-class errors; a pooled lease is only ever answered by the server it
// was made with (cockroachdb/cockroach#169068); redials back off; pool capacities hold; metrics add
// up; after healing every client and a fresh lease succeed; nothing leaks.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "impl/app/interceptors.h"
#include "impl/app/metrics.h"
#include "impl/app/pool.h"
#include "impl/app/reconnecting_conn.h"
#include "impl/app/standard_interceptors.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/sync.h"
#include "sim/testing/client_env.h"
#include "sim/drpc/workload_situations.h"
#include "sim/scenario.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

Router ServiceRouter(const std::string& identity) {
  Router r;
  r.Unary("/s.S/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
     return std::string(req);
   }).IgnoreError();
  r.Unary("/s.S/Who", [identity](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
     return identity;
   }).IgnoreError();
  return r;
}

// Errors a call may end with while connections break: never a protocol error, never a remote
// error (the handlers never fail), never EOF.
bool AllowedFailure(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s);
}

// --- client.reconnect_storm ----------------------------------------------------------------------

struct StormConfig {
  int clients;
  int calls_per_client;
  int restarts;
  BackoffPolicy backoff;
};

// One client: makes its calls, checking each outcome.
void RunStormClient(SimContext& ctx, ReconnectingConn& core, InterceptedConn& conn, int id,
                    int calls, int* ok_calls) {
  for (int i = 0; i < calls; ++i) {
    CallContext call(ctx.env());
    call.SetTimeout(Duration::Millis(1 + ctx.Choose("storm.deadline_ms", 60)));
    const std::string request = absl::StrCat("client ", id, " call ", i);
    absl::StatusOr<std::string> reply = conn.Invoke(call, "/s.S/Echo", request);
    if (reply.ok()) {
      ctx.Check(*reply == request, absl::StrCat("reply \"", *reply, "\" to \"", request, "\""));
      ++*ok_calls;
    } else {
      ctx.Check(AllowedFailure(reply.status()),
                absl::StrCat("client ", id, ": unexpected failure ", reply.status().ToString()));
      if (absl::StrContains(reply.status().message(), "reconnecting to")) {
        ctx.Reach(situations::kClientFailedFastDuringBackoff);
      }
    }
    if (core.generation() > 1) ctx.Reach(situations::kClientRedialledAfterABreak);
    SleepFor(ctx.env(), Duration::Micros(1 + ctx.Choose("storm.think_us", 5000)));
  }
}

void ReconnectStorm(SimContext& ctx, bool mux) {
  const StormConfig cfg{
      .clients = 1 + static_cast<int>(ctx.Choose("storm.clients", 4)),
      .calls_per_client = 5 + static_cast<int>(ctx.Choose("storm.calls", 20)),
      .restarts = static_cast<int>(ctx.Choose("storm.restarts", 4)),
      .backoff = {.initial = Duration::Millis(2), .max = Duration::Millis(40)},
  };
  NetworkOptions net;
  net.fault_per_mille = ctx.Chance("storm.net_faults", 500) ? 300 : 0;
  net.heal_at = ctx.now() + Duration::Millis(200);
  ctx.network().set_options(net);
  Options options;
  options.mux = mux;
  MetricsRegistry metrics;
  const Router router = ServiceRouter("server");
  InterceptedHandler handler(router,
                             {ServerMetricsInterceptor(metrics),
                              DeadlineFromMetadata(Duration::Seconds(1))},
                             RouterShapes(router));
  SimServer server(ctx, "server:1", handler, options);
  ctx.Check(server.Start().ok(), "server start");
  FaultyDialer dialer(ctx, {.refuse_per_mille = 200, .hang_per_mille = 50, .slow_per_mille = 200});
  TapeRandom jitter(ctx, "storm.jitter");
  RetryBudget budget;
  RetryPolicy retry{.idempotent = [](absl::string_view) { return true; }, .budget = &budget,
                    .random = &jitter};
  std::vector<std::unique_ptr<ReconnectingConn>> cores;
  std::vector<std::unique_ptr<InterceptedConn>> conns;
  for (int c = 0; c < cfg.clients; ++c) {
    ReconnectOptions ro{.connection = options,
                        .backoff = cfg.backoff,
                        .dial_timeout = Duration::Millis(20),
                        .stable_after = Duration::Millis(5),
                        .wait_for_ready = ctx.Chance("storm.wait_for_ready", 500),
                        .metrics = &metrics,
                        .random = &jitter};
    cores.push_back(std::make_unique<ReconnectingConn>(ctx.env(), dialer, "server:1", ro));
    conns.push_back(std::make_unique<InterceptedConn>(
        *cores.back(), std::vector<ClientInterceptor>{ClientMetricsInterceptor(metrics),
                                                      SendDeadlineInMetadata(),
                                                      RetryIdempotentUnary(retry)}));
  }
  WaitGroup callers(ctx.env());
  std::vector<int> ok(cfg.clients, 0);
  for (int c = 0; c < cfg.clients; ++c) {
    callers.Add();
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn(absl::StrCat("storm client ", c), [&, c] {
      RunStormClient(ctx, *cores[c], *conns[c], c, cfg.calls_per_client, &ok[c]);
      callers.Done();
    }));
  }
  for (int r = 0; r < cfg.restarts; ++r) {
    SleepFor(ctx.env(), Duration::Micros(1 + ctx.Choose("storm.restart_at_us", 40000)));
    server.Stop();
    SleepFor(ctx.env(), Duration::Micros(ctx.Choose("storm.down_us", 20000)));
    ctx.Check(server.Start().ok(), "server restart");
  }
  callers.Wait("storm: waiting for the clients");
  ctx.network().Heal();
  // Liveness after healing: every client gets through (waiting for its next attempt if needed).
  for (int c = 0; c < cfg.clients; ++c) {
    CallContext probe(ctx.env());
    probe.SetTimeout(Duration::Seconds(2));
    absl::StatusOr<std::string> r;
    for (int attempt = 0; attempt < 100 && !probe.done(); ++attempt) {
      r = conns[c]->Invoke(probe, "/s.S/Echo", "probe");
      if (r.ok()) break;
      SleepFor(ctx.env(), cfg.backoff.max);
    }
    ctx.Check(r.ok() && *r == "probe",
              absl::StrCat("client ", c, " cannot call after healing: ", r.status().ToString()));
    // Redials back off: at most one dial per 0.8 x initial of the run, plus one per break.
    const uint64_t bound = 2 + static_cast<uint64_t>(cfg.restarts) * 2 +
                           static_cast<uint64_t>((ctx.now() - Instant::FromNanos(0)).nanos() /
                                                 (cfg.backoff.initial.nanos() * 8 / 10));
    ctx.Check(cores[c]->dials() <= bound,
              absl::StrCat("client ", c, " dialled ", cores[c]->dials(), " times (bound ", bound, ")"));
  }
  if (dialer.stats().refused + dialer.stats().hung > 0) ctx.Reach(situations::kClientDialFailed);
  for (auto& c : cores) c->Close();
  server.Stop();
  // Metrics add up once everything ended.
  const int64_t opened = metrics.Get(Side::kClient, Metric::kStreamsOpened);
  ctx.Check(opened == metrics.Get(Side::kClient, Metric::kStreamsClosed) +
                          metrics.Get(Side::kClient, Metric::kStreamsFailed) &&
                metrics.Get(Side::kClient, Metric::kStreamsActive) == 0 &&
                metrics.Get(Side::kServer, Metric::kStreamsActive) == 0,
            "client stream metrics do not add up");
  ctx.Check(metrics.Get(Side::kClient, Metric::kDials) ==
                static_cast<int64_t>(dialer.stats().dials),
            "dial metrics");
}

DRPC_SIM_SCENARIO(client_reconnect_storm_upstream, {
    .name = "client.reconnect_storm.upstream",
    .description = "reconnecting clients with retry/deadline/metrics interceptors through dial "
                   "failures, server restarts and connection faults (upstream mode)",
    .body = [](SimContext& ctx) { ReconnectStorm(ctx, /*mux=*/false); },
    .situations = {situations::kClientRedialledAfterABreak, situations::kClientFailedFastDuringBackoff,
                   situations::kClientDialFailed},
    .default_seeds = 150,
});

DRPC_SIM_SCENARIO(client_reconnect_storm_mux, {
    .name = "client.reconnect_storm.mux",
    .description = "reconnecting clients with interceptors through dial failures, server "
                   "restarts and connection faults (mux mode)",
    .body = [](SimContext& ctx) { ReconnectStorm(ctx, /*mux=*/true); },
    .situations = {situations::kClientRedialledAfterABreak, situations::kClientFailedFastDuringBackoff,
                   situations::kClientDialFailed},
    .default_seeds = 150,
});

}  // namespace
}  // namespace drpc::sim
