#include "sim/drpc/workload.h"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/manager.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/drpc/workload_calls.h"
#include "sim/drpc/workload_ledger.h"
#include "sim/drpc/workload_situations.h"

namespace drpc::sim {
namespace {

constexpr char kServerAddress[] = "server:1";
constexpr char kProbeAddress[] = "probe:1";
constexpr uint64_t kDisturbAtMaxMicros = 50'000;
constexpr Duration kShutdownGrace = Duration::Millis(5);

template <typename T>
T Pick(SimContext& ctx, absl::string_view site, std::initializer_list<T> values) {
  return values.begin()[ctx.Choose(site, values.size())];
}

Duration RandomDelay(SimContext& ctx, absl::string_view site) {
  return Duration::Micros(static_cast<int64_t>(ctx.Choose(site, kDisturbAtMaxMicros)));
}

// The live state of one workload run (everything the fibers share).
class Run {
 public:
  Run(SimContext& ctx, const WorkloadConfig& config, const Options& client, const Options& server)
      : ctx_(ctx),
        config_(config),
        client_(client),
        server_(server),
        oracle_([&ctx](std::string why) { ctx.Fail(FailureClass::kCorrectness, std::move(why)); }),
        ledger_(ctx, config, client, server),
        router_(LoadRouter(ctx, ledger_, config.sabotage)),
        caller_(ctx, config, ledger_) {
    oracle_.set_trace(&ctx);
  }

  WorkloadReport Go() {
    Env& env = ctx_.env();
    Server server(env, router_, server_);
    WaitGroup server_fibers(env);
    StartServer(server, kServerAddress, server_fibers);
    ledger_.conns().reserve(static_cast<size_t>(config_.connections) + 1);
    for (int i = 0; i < config_.connections; ++i) Connect(kServerAddress, "client");

    WaitGroup helpers(env);
    StartDisturbers(server, helpers);
    const Instant heal_at = ctx_.network().options().heal_at;
    if (!RunCallers(heal_at + config_.liveness_bound)) return ledger_.report();
    helpers.Wait("workload: waiting for the disturbers");
    if (!WaitForServerQuiet(server, env.clock().Now() + config_.liveness_bound)) {
      return ledger_.report();
    }

    for (size_t i = 0; i < ledger_.conns().size(); ++i) ledger_.CheckConnectionEnd(i);
    for (ConnRecord& c : ledger_.conns()) CloseAndCheck(c);
    if (!WaitForServerIdle(server, env.clock().Now() + config_.liveness_bound)) {
      return ledger_.report();
    }
    ledger_.CheckHandlers();
    if (config_.probe_after_heal) Probe(heal_at);
    server.Shutdown(env.clock().Now() + kShutdownGrace);
    server_fibers.Wait("workload: waiting for the server");
    ledger_.conns().clear();
    if (config_.expect_all_ok) {
      for (const RpcRecord& rec : ledger_.rpcs()) {
        if (!rec.status.ok()) ledger_.Fail(rec, "this scenario expects every call to succeed");
      }
    }
    for (const std::weak_ptr<Stream>& s : caller_.streams()) {
      ctx_.Check(s.expired(), "leak: a client stream outlived its connection");
    }
    return ledger_.report();
  }

 private:
  void StartServer(Server& server, absl::string_view address, WaitGroup& fibers) {
    absl::StatusOr<std::unique_ptr<Listener>> l = ctx_.network().Listen(address);
    DRPC_CHECK_OK(l.status());
    auto listener = std::shared_ptr<Listener>(oracle_.TapListener(
        *std::move(l), std::string(address), WireEndConfig::For(server_, /*client=*/false)));
    fibers.Add();
    DRPC_CHECK_OK(ctx_.env().scheduler().Spawn(absl::StrCat("serve ", address), [&server, &fibers, listener] {
      absl::Status s = server.Serve(*listener);
      listener->Close();
      fibers.Done();
      (void)s;
    }));
  }

  size_t Connect(absl::string_view address, absl::string_view who,
                 std::optional<FaultPlan> plan = std::nullopt) {
    const size_t index = ledger_.conns().size();
    absl::StatusOr<std::unique_ptr<Transport>> t = ctx_.network().Dial(address, plan);
    if (!t.ok()) {
      ctx_.Fail(FailureClass::kCorrectness, absl::StrCat("dial ", address, ": ", t.status().ToString()));
    }
    ConnRecord rec;
    rec.endpoint = t->get();
    std::unique_ptr<Transport> tapped = oracle_.Tap(*std::move(t), absl::StrCat(who, " ", index),
                                                    WireEndConfig::For(client_, /*client=*/true));
    absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(ctx_.env(), std::move(tapped), client_);
    DRPC_CHECK_OK(conn.status());
    rec.conn = *std::move(conn);
    ledger_.conns().push_back(std::move(rec));
    return index;
  }

  void StartDisturbers(Server& server, WaitGroup& helpers) {
    Env& env = ctx_.env();
    for (size_t i = 0; i < ledger_.conns().size(); ++i) {
      if (!ctx_.Chance("load.close_conn", config_.conn_close_per_mille)) continue;
      const Duration at = RandomDelay(ctx_, "load.close_conn_at");
      helpers.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("close conn ", i), [this, i, at, &helpers] {
        SleepFor(ctx_.env(), at, "waiting to close a connection");
        ConnRecord& c = ledger_.conns()[i];
        c.closed_by_workload = true;
        ctx_.Note(absl::StrCat("the workload closes client connection ", i));
        ctx_.Reach(situations::kWorkloadClosedABusyConnection);
        c.conn->Close();
        helpers.Done();
      }));
    }
    if (ctx_.Chance("load.shutdown", config_.server_shutdown_per_mille)) {
      const Duration at = RandomDelay(ctx_, "load.shutdown_at");
      helpers.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn("shutdown", [this, &server, at, &helpers] {
        SleepFor(ctx_.env(), at, "waiting to shut the server down");
        ledger_.set_shutdown_started();
        ctx_.Note("the server shuts down");
        ctx_.Reach(situations::kWorkloadShutdownDuringLoad);
        server.Shutdown(ctx_.env().clock().Now() + kShutdownGrace);
        helpers.Done();
      }));
    }
  }

  // False if the calls did not all end by `deadline` (reported as a liveness failure).
  bool RunCallers(Instant deadline) {
    Env& env = ctx_.env();
    Signal all_done(env);
    int running = 0;
    for (size_t c = 0; c < static_cast<size_t>(config_.connections); ++c) {
      for (int k = 0; k < config_.callers_per_connection; ++k) {
        ++running;
        DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("conn ", c, " caller ", k), [this, c, &running, &all_done] {
          for (int r = 0; r < config_.rpcs_per_caller; ++r) caller_.MakeCall(c);
          if (--running == 0) all_done.Set();
        }));
      }
    }
    if (running == 0) return true;
    // Every call must end, and none may wait `liveness_bound` after the heal without another
    // call starting or ending meanwhile: a long workload on a slow link may still be making
    // progress at the first deadline (a finite workload extends it a finite number of times).
    size_t progress = 0;
    for (;;) {
      if (all_done.Wait("workload: waiting for every call", deadline)) return true;
      const size_t now_progress = CallsStartedOrEnded();
      if (now_progress == progress) break;
      progress = now_progress;
      deadline = env.clock().Now() + config_.liveness_bound;
    }
    std::string unfinished;
    for (const RpcRecord& rec : ledger_.rpcs()) {
      if (!rec.finished) absl::StrAppend(&unfinished, "\n  ", rec.Describe());
    }
    ctx_.Fail(FailureClass::kLiveness,
              absl::StrCat("calls still running after the network healed, none started or ended "
                           "for ", config_.liveness_bound.ToString(), ":", unfinished));
    return false;
  }

  size_t CallsStartedOrEnded() const {
    size_t n = 0;
    for (const RpcRecord& rec : ledger_.rpcs()) n += rec.finished ? 2 : 1;
    return n;
  }

  // See RunFaultAtEveryOffset.
 public:
  WorkloadReport FaultSweep() {
    Env& env = ctx_.env();
    Server server(env, router_, server_);
    WaitGroup server_fibers(env);
    StartServer(server, kServerAddress, server_fibers);
    const Duration bound = config_.liveness_bound;
    auto exchange = [&](size_t index) {
      caller_.MakeUndisturbedCall(index, RpcType::kUnary, bound);
      caller_.MakeUndisturbedCall(index, RpcType::kBidi, bound);
      ledger_.CheckConnectionEnd(index);
      CloseAndCheck(ledger_.conns()[index]);
    };
    const uint64_t before = ctx_.network().stats().bytes_written;
    ledger_.conns().reserve(1);
    exchange(Connect(kServerAddress, "measure", FaultPlan::None()));
    const uint64_t length = ctx_.network().stats().bytes_written - before;
    static constexpr FaultPlan::Kind kKinds[] = {FaultPlan::Kind::kReset, FaultPlan::Kind::kFin,
                                                 FaultPlan::Kind::kWriteError,
                                                 FaultPlan::Kind::kReadError};
    ledger_.conns().reserve(1 + 2 * std::size(kKinds) * (length + 1));
    for (FaultPlan::Kind kind : kKinds) {
      for (Direction d : {Direction::kForward, Direction::kBackward}) {
        for (uint64_t offset = 0; offset <= length; ++offset) {
          exchange(Connect(kServerAddress, "fault", FaultPlan{kind, d, offset}));
        }
      }
    }
    ctx_.Reach(situations::kWorkloadEveryOffsetSwept);
    if (!WaitForServerIdle(server, env.clock().Now() + bound)) return ledger_.report();
    ledger_.CheckHandlers();
    server.Shutdown(env.clock().Now() + kShutdownGrace);
    server_fibers.Wait("workload: waiting for the server");
    ledger_.conns().clear();
    return ledger_.report();
  }

 private:
  // Every call has ended: on the connections still open, the server must let go of every stream,
  // every pending invoke (metadata without its Invoke) and every queued write.
  bool WaitForServerQuiet(Server& server, Instant deadline) {
    Env& env = ctx_.env();
    for (;;) {
      const Manager::Usage u = server.usage();
      if (u.streams == 0 && u.pending_invokes == 0 && u.queued_writes == 0) return true;
      if (env.clock().Now() >= deadline) {
        std::string running;
        for (const RpcRecord& rec : ledger_.rpcs()) {
          if (rec.handler_runs > 0 && !rec.handler_done) absl::StrAppend(&running, "\n  ", rec.Describe());
        }
        ctx_.Fail(FailureClass::kLeak,
                  absl::StrCat("every call ended, yet ", config_.liveness_bound.ToString(),
                               " later the server still holds ", u.streams, " streams, ",
                               u.pending_invokes, " pending invokes and ", u.queued_writes,
                               " write queues on its open connections; handlers running:",
                               running));
        return false;
      }
      SleepFor(env, Duration::Millis(1), "waiting for the server to let go of ended calls");
    }
  }

  // Every client has closed its connection: the server must notice and end every call.
  bool WaitForServerIdle(Server& server, Instant deadline) {
    Env& env = ctx_.env();
    while (server.active_connections() > 0) {
      if (env.clock().Now() >= deadline) {
        std::string running;
        for (const RpcRecord& rec : ledger_.rpcs()) {
          if (rec.handler_runs > 0 && !rec.handler_done) absl::StrAppend(&running, "\n  ", rec.Describe());
        }
        ctx_.Fail(FailureClass::kLiveness,
                  absl::StrCat("the server still serves ", server.active_connections(),
                               " connection(s) ", config_.liveness_bound.ToString(),
                               " after every client closed; handlers still running:", running));
        return false;
      }
      SleepFor(env, Duration::Millis(1), "waiting for the server to notice closed connections");
    }
    return true;
  }

  void CloseAndCheck(ConnRecord& c) {
    c.conn->Close();
    if (c.conn->manager().is_mux()) {
      const Manager::Usage u = c.conn->manager().usage();
      ctx_.Check(u.streams == 0 && u.pending_invokes == 0 && u.queued_writes == 0,
                 absl::StrCat("leak: a closed mux connection still holds ", u.streams,
                              " streams, ", u.pending_invokes, " pending invokes, ",
                              u.queued_writes, " writer queues"));
    }
  }

  // Liveness after healing: a fresh connection to a fresh server completes calls.
  void Probe(Instant heal_at) {
    Env& env = ctx_.env();
    if (env.clock().Now() < heal_at) SleepFor(env, heal_at - env.clock().Now(), "waiting for the heal");
    Server probe(env, router_, server_);
    WaitGroup fibers(env);
    StartServer(probe, kProbeAddress, fibers);
    const size_t index = Connect(kProbeAddress, "probe");
    caller_.MakeCleanCall(index, RpcType::kUnary, config_.liveness_bound);
    caller_.MakeCleanCall(index, RpcType::kBidi, config_.liveness_bound);
    ctx_.Reach(situations::kWorkloadProbeAfterHealSucceeded);
    CloseAndCheck(ledger_.conns()[index]);
    probe.Shutdown(env.clock().Now() + kShutdownGrace);
    fibers.Wait("workload: waiting for the probe server");
  }

  SimContext& ctx_;
  const WorkloadConfig& config_;
  Options client_;
  Options server_;
  WireOracle oracle_;
  Ledger ledger_;
  Router router_;
  Caller caller_;
};

}  // namespace

// Rare-but-legal behaviour, drawn per run: BUGGIFY sites in impl/ (each switched on with some
// chance the first time it is asked), spurious wake-ups from Park, late timers.
static void DrawRuntimeChaos(SimContext& ctx) {
  ctx.chaos().set_enabled(ctx.Chance("swarm.chaos", 750));
  SimScheduler::Options& sched = ctx.scheduler().options();
  sched.spurious_wakeup_per_mille = ctx.Chance("swarm.spurious_wakeups", 300) ? 30 : 0;
  sched.timer_jitter_max = ctx.Chance("swarm.timer_jitter", 300) ? Duration::Micros(200) : Duration::Zero();
}

absl::string_view WorkloadModeName(WorkloadMode mode) {
  switch (mode) {
    case WorkloadMode::kUpstream: return "upstream";
    case WorkloadMode::kMux: return "mux";
    case WorkloadMode::kUpstreamClientMuxServer: return "upstream client, mux server";
  }
  return "?";
}

// Flow control as both ends must agree on it (impl/options.h): a window, a threshold that keeps
// both directions live (each side's frames fit what the other withholds), a message limit above
// every message of the run; sometimes only one end enables it (a mismatched deployment,
// docs/protocol.md §17.5), and then a sender stalls for credit, briefly. Zero (what a shrunk tape
// draws) is both ends alike.
static void DrawFlowControl(SimContext& ctx, bool large, size_t message_max_bytes, Options& client,
                            Options& server) {
  const uint64_t ends = ctx.Choose("swarm.flow.ends", 10);
  if (ends >= 4 && ends < 8) return;  // neither
  Options::FlowControl flow;
  flow.enabled = true;
  flow.message_max_bytes = std::max<uint64_t>(
      Pick<uint64_t>(ctx, "swarm.flow.message_max", {limits::kFlowMessageDefaultMaxBytes, 256 * 1024}),
      message_max_bytes);
  const uint64_t frame = std::min<uint64_t>(
      flow.message_max_bytes, std::max(client.split_bytes, server.split_bytes));
  // Index 0 is the fork's defaults: a shrunk tape keeps the calm configuration.
  flow.stream_window_bytes =
      frame + (large ? Pick<uint64_t>(ctx, "swarm.flow.window", {2 << 20, 1, 64 * 1024})
                     : Pick<uint64_t>(ctx, "swarm.flow.window", {2 << 20, 1, 64, 4096, 64 * 1024}));
  const uint64_t room = flow.stream_window_bytes - frame;  // the threshold's largest live value
  flow.grant_threshold_bytes =
      Pick<uint64_t>(ctx, "swarm.flow.threshold", {std::min(room, limits::kGrantThresholdDefaultBytes),
                                                   1, 1 + room / 4, room});
  if (ends < 4) client.flow = server.flow = flow;  // both
  if (ends == 8) client.flow = flow;                // the client only
  if (ends == 9) server.flow = flow;                // the server only
  if (client.flow.enabled != server.flow.enabled) {
    // Mismatched ends stall for credit: briefly, so the run goes on.
    client.credit_stall_timeout = server.credit_stall_timeout =
        Pick<Duration>(ctx, "swarm.flow.stall", {Duration::Millis(2), Duration::Millis(40)});
  }
}

void DrawOptions(SimContext& ctx, WorkloadMode mode, size_t message_max_bytes, Options& client,
                 Options& server) {
  client = Options{};
  server = Options{};
  client.mux = mode == WorkloadMode::kMux;
  server.mux = mode != WorkloadMode::kUpstream;
  constexpr size_t kDefaultSplit = limits::kSplitDefaultBytes;
  const bool large = message_max_bytes > 16 * 1024;
  for (Options* o : {&client, &server}) {
    const bool c = o == &client;
    const absl::string_view split_site = c ? "swarm.client.split" : "swarm.server.split";
    o->split_bytes = large ? Pick<size_t>(ctx, split_site, {1500, 16 * 1024, kDefaultSplit})
                           : Pick<size_t>(ctx, split_site, {1, 7, 100, 1500, 16 * 1024,
                                                            kDefaultSplit, kDefaultSplit});
    o->write_buffer_bytes = Pick<size_t>(ctx, "swarm.write_buffer", {1, 100, 4096, 4096});
    o->write_batch_max_bytes = Pick<size_t>(ctx, "swarm.write_batch", {1, 200, 4096, 64 * 1024});
    o->recv_queue_max_count = Pick<size_t>(ctx, "swarm.queue_count", {1, 2, 16, 256});
    o->recv_queue_max_bytes = Pick<size_t>(ctx, "swarm.queue_bytes", {1, 1000, 64 * 1024, 4 << 20});
    o->soft_cancel = ctx.Chance("swarm.soft_cancel", 500);
  }
  if (mode == WorkloadMode::kMux) DrawFlowControl(ctx, large, message_max_bytes, client, server);
  if (mode != WorkloadMode::kUpstream) {
    // One draw for both (zero: the defaults): the client's compression (mux clients only), and the
    // Error body format both ends read alike — the fork's, mux mode's default, or upstream's (an
    // upstream client of a mux server names one; it defaults to upstream's).
    const uint64_t extras = ctx.Choose("swarm.mux_extras", 12);
    if (mode == WorkloadMode::kMux) {
      client.compression = std::initializer_list<Compression>{
          Compression::kNone, Compression::kNone, Compression::kSnappy,
          Compression::kMinLzFastest}.begin()[extras % 4];
    }
    client.error_format = server.error_format =
        extras / 4 == 2 ? ErrorFormat::kUpstream : ErrorFormat::kGrpcStatus;
  }
  server.concurrent_streams_max_count = Pick<size_t>(ctx, "swarm.max_streams", {1, 2, 5, 1024});
  server.pending_invokes_max_count = Pick<size_t>(ctx, "swarm.pending_invokes", {1, 4, 64});
  DRPC_CHECK_OK(client.Validate());
  DRPC_CHECK_OK(server.Validate());
}

WorkloadReport RunFaultAtEveryOffset(SimContext& ctx, WorkloadMode mode) {
  WorkloadConfig config;
  config.mode = mode;
  config.swarm = false;
  config.liveness_bound = Duration::Seconds(30);
  Options client;
  Options server;
  client.mux = mode == WorkloadMode::kMux;
  server.mux = mode != WorkloadMode::kUpstream;
  // Small frames and segments: offsets fall inside headers, varints and bodies alike.
  client.split_bytes = server.split_bytes = 64;
  NetworkOptions net = ctx.network().options();
  net.heal_at = Instant::Infinite();
  net.fault_per_mille = 0;
  net.draw_link_per_connection = true;
  ctx.network().set_options(net);
  DrawRuntimeChaos(ctx);
  Run run(ctx, config, client, server);
  return run.FaultSweep();
}

// WorkloadConfig::draw_size_limits: a limit at, just above or just below the largest size the run
// sends. Smaller sizes leave no room for the plan's metadata (about 100 bytes) under the metadata
// limit, min(limit, kMetadataMaxBytes).
constexpr size_t kSizeLimitSentMinBytes = 200;
static void DrawSizeLimits(SimContext& ctx, const WorkloadConfig& config, Options& client,
                           Options& server) {
  // The largest size the calls send (the scenario chooses which sizes those are).
  const size_t sent = *std::max_element(config.message_sizes.begin(), config.message_sizes.end());
  if (sent < kSizeLimitSentMinBytes) return;
  // The limit is on the bytes a message takes on the wire: compressed ones have other sizes.
  client.compression = Compression::kNone;
  // 0: sent + 1, 1: sent, 2: sent - 1 (a mux end fails the stream, an upstream end the connection)
  const uint64_t below = ctx.Choose("load.size_limit.at", 3);
  for (Options* o : {&client, &server}) {
    const size_t limit = sent + 1 - below;
    if (o->mux && o->flow.enabled) {
      o->flow.message_max_bytes = limit;
    } else {
      o->packet_max_bytes = limit;
    }
  }
}

WorkloadReport RunWorkload(SimContext& ctx, const WorkloadConfig& config) {
  Options client = config.client;
  Options server = config.server;
  if (config.swarm) {
    const size_t message_max =
        *std::max_element(config.message_sizes.begin(), config.message_sizes.end());
    DrawOptions(ctx, config.mode, message_max, client, server);
  } else {
    client.mux = config.mode == WorkloadMode::kMux;
    server.mux = config.mode != WorkloadMode::kUpstream;
  }
  if (config.draw_size_limits) DrawSizeLimits(ctx, config, client, server);
  if (config.adjust) config.adjust(client, server);
  DrawRuntimeChaos(ctx);
  DRPC_CHECK_OK(client.Validate());
  DRPC_CHECK_OK(server.Validate());
  NetworkOptions net = ctx.network().options();
  net.draw_link_per_connection = config.draw_links;
  net.fault_per_mille = config.fault_per_mille;
  net.heal_at = ctx.now() + config.heal_after;
  ctx.network().set_options(net);
  Run run(ctx, config, client, server);
  return run.Go();
}

}  // namespace drpc::sim
