// Swarm scenarios: the general RPC workload (sim/drpc/workload.h) with every knob drawn from the
// tape — both ends' Options, links, faults, the RPC mix, cancels, deadlines, early closes, handler
// errors, connection closes and server shutdowns — in each mode.
#include "impl/situations.h"
#include "sim/drpc/workload.h"
#include "sim/drpc/workload_situations.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

WorkloadConfig SwarmConfig(SimContext& ctx, WorkloadMode mode) {
  WorkloadConfig w;
  w.mode = mode;
  w.connections = 1 + static_cast<int>(ctx.Choose("swarm.connections", 2));
  w.callers_per_connection = 1 + static_cast<int>(ctx.Choose("swarm.callers", 4));
  w.rpcs_per_caller = 1 + static_cast<int>(ctx.Choose("swarm.rpcs", 4));
  w.messages_max = static_cast<uint32_t>(ctx.Choose("swarm.messages_max", 6));
  // Large messages (split into frames) only sometimes: they are slow with tiny windows.
  if (ctx.Chance("swarm.large", 200)) {
    w.message_sizes = {0, 300, 70'000, 140'000};
  } else {
    w.message_sizes = {0, 1, 16, 300, 4096};
  }
  auto maybe = [&](absl::string_view site, uint32_t per_mille) {
    return ctx.Chance(site, 500) ? per_mille : 0;
  };
  w.cancel_per_mille = maybe("swarm.cancels", 150);
  w.deadline_per_mille = maybe("swarm.deadlines", 100);
  w.close_send_early_per_mille = maybe("swarm.close_send_early", 150);
  w.abandon_per_mille = maybe("swarm.abandons", 60);
  w.handler_error_per_mille = maybe("swarm.handler_errors", 200);
  w.wait_for_cancel_per_mille = maybe("swarm.wait_for_cancel", 100);
  w.conn_close_per_mille = maybe("swarm.conn_close", 150);
  w.server_shutdown_per_mille = maybe("swarm.shutdown", 100);
  w.fault_per_mille = maybe("swarm.faults", 400);
  return w;
}

void Swarm(SimContext& ctx, WorkloadMode mode) { RunWorkload(ctx, SwarmConfig(ctx, mode)); }

// The swarm with both ends' message limits drawn at, just above or just below one of the sizes
// its calls send (WorkloadConfig::draw_size_limits).
void SwarmAtSizeLimits(SimContext& ctx, WorkloadMode mode) {
  WorkloadConfig w = SwarmConfig(ctx, mode);
  // The calls' largest size (the limit's neighbour) is one of the swarm's sizes of 200 bytes up.
  std::vector<size_t> large;
  for (size_t size : w.message_sizes) {
    if (size >= 200) large.push_back(size);
  }
  const size_t largest = large[ctx.Choose("swarm.size_limit.largest", large.size())];
  std::erase_if(w.message_sizes, [largest](size_t size) { return size > largest; });
  w.draw_size_limits = true;
  RunWorkload(ctx, w);
}

DRPC_SIM_SCENARIO(swarm_upstream, {
    .name = "swarm.upstream",
    .description = "random RPC workload, upstream mode, swarm-drawn options, faults and races",
    .body = [](SimContext& ctx) { Swarm(ctx, WorkloadMode::kUpstream); },
    .situations = {situations::kWorkloadProbeAfterHealSucceeded,
                   situations::kWorkloadFaultStruckAConnection,
                   situations::kWorkloadUpstreamCancelClosedConnection,
                   situations::kStreamCancelDuringAnOperation,
                   situations::kStreamPacketAfterTheStreamEnded,
                   situations::kUpstreamHardCancelClosedTheConnection,
                   situations::kUpstreamNextStreamWaitedForACancelToBeWritten,
                   situations::kUpstreamSoftCancelFoundAWriteInProgress},
    // Soft cancel meeting a write in progress is rare (about 1.5% of runs): 300 seeds reach it.
    .default_seeds = 300,
});

DRPC_SIM_SCENARIO(swarm_mux, {
    .name = "swarm.mux",
    .description = "random RPC workload, mux mode, swarm-drawn options, faults and races",
    .body = [](SimContext& ctx) { Swarm(ctx, WorkloadMode::kMux); },
    .situations = {situations::kWorkloadProbeAfterHealSucceeded,
                   situations::kWorkloadFaultStruckAConnection,
                   situations::kWorkloadRefused,
                   situations::kStreamCancelDuringAnOperation,
                   situations::kConnUnarySendMetTheEndOfItsStream,
                   situations::kMuxMessageOverdrewTheCredit,
                   situations::kMuxGrantSent,
                   situations::kMuxPeerEndedAStreamWithWritesQueued,
                   situations::kMuxStreamEndedBeforeItsInvokeWasWritten,
                   situations::kMuxWindowUpdateForAnUnknownStream},
    // kMuxInvokeWhileAnotherWindowIsExhausted is race.mux.window_update_vs_stream_close's: the
    // swarm draws the fork's 2 MiB window first, which its workloads rarely spend.
    .default_seeds = 150,
});

DRPC_SIM_SCENARIO(swarm_upstream_client_mux_server, {
    .name = "swarm.upstream_client_mux_server",
    .description = "random RPC workload, upstream clients against a mux server (docs/protocol.md §11.6)",
    .body = [](SimContext& ctx) { Swarm(ctx, WorkloadMode::kUpstreamClientMuxServer); },
    .situations = {situations::kWorkloadProbeAfterHealSucceeded,
                   situations::kStreamCancelDuringAnOperation,
                   situations::kUpstreamHardCancelClosedTheConnection,
                   situations::kUpstreamNextStreamWaitedForACancelToBeWritten},
    .default_seeds = 100,
});

DRPC_SIM_SCENARIO(swarm_size_limits_mux, {
    .name = "swarm.size_limits.mux",
    .description = "the mux swarm with message limits at, one over and one under the sizes it sends",
    .body = [](SimContext& ctx) { SwarmAtSizeLimits(ctx, WorkloadMode::kMux); },
    .situations = {situations::kWorkloadMessageJustUnderTheLimit,
                   situations::kWorkloadMessageAtTheLimitPassed,
                   situations::kWorkloadMessageOverTheLimitFailedItsStream},
    .default_seeds = 60,
});

DRPC_SIM_SCENARIO(swarm_size_limits_upstream, {
    .name = "swarm.size_limits.upstream",
    .description = "the upstream swarm with packet limits at, one over and one under the sizes it sends",
    .body = [](SimContext& ctx) { SwarmAtSizeLimits(ctx, WorkloadMode::kUpstream); },
    .situations = {situations::kWorkloadMessageJustUnderTheLimit,
                   situations::kWorkloadMessageAtTheLimitPassed,
                   situations::kWorkloadMessageOverTheLimitClosedItsConnection},
    .default_seeds = 60,
});

}  // namespace
}  // namespace drpc::sim
