// The stress and multiplexing suite of cockroachdb/drpc PR #54, as deterministic scenarios.
//
// Each test of the PR becomes a workload (sim/drpc/workload.h) with every oracle on, in mux mode
// and, where one stream at a time makes the test meaningful, in upstream mode. Sizes are scaled to
// what a simulated run does in well under a second; seeds add what the Go tests got from running
// many times: each seed is a different interleaving, link and Options draw.
#include "proto/limits.h"
#include "sim/drpc/workload.h"
#include "sim/scenario.h"
#include "sim/drpc/workload_situations.h"

namespace drpc::sim {
namespace {

// Pins what the scenario's own claim depends on: enough stream slots for its concurrency and
// windows that keep hundreds of messages fast. Everything else stays drawn.
void RoomyLimits(Options& client, Options& server) {
  for (Options* o : {&client, &server}) {
    o->concurrent_streams_max_count = limits::kStreamsDefaultMaxCount;
    // A larger window keeps the drawn threshold live (it leaves more room for a frame).
    if (o->flow.stream_window_bytes < 4096) o->flow.stream_window_bytes = 4096;
  }
}

WorkloadConfig Base(WorkloadMode mode) {
  WorkloadConfig w;
  w.mode = mode;
  w.message_sizes = {0, 1, 16, 100};
  w.adjust = RoomyLimits;
  return w;
}

// SustainedConcurrentStreams: many bidi streams exchanging many messages at once, no cross-talk.
WorkloadConfig Sustained(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = mode == WorkloadMode::kMux ? 50 : 8;
  w.rpcs_per_caller = 1;
  w.unary_weight = w.client_stream_weight = w.server_stream_weight = 0;
  w.messages_min = w.messages_max = mode == WorkloadMode::kMux ? 40 : 20;
  w.think_max = Duration::Zero();
  w.expect_all_ok = true;
  return w;
}

// RapidOpenCloseCycles: one caller opening and closing streams back to back, many abandoned
// midway; the connection must stay healthy throughout.
WorkloadConfig RapidOpenClose(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = 1;
  w.rpcs_per_caller = 60;
  w.messages_max = 2;
  w.abandon_per_mille = 400;
  w.think_max = Duration::Zero();
  return w;
}

// CancelStorm: about half of many concurrent streams cancelled; the rest succeed.
WorkloadConfig CancelStorm(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = mode == WorkloadMode::kMux ? 30 : 6;
  w.rpcs_per_caller = 1;
  w.cancel_per_mille = 500;
  w.wait_for_cancel_per_mille = 200;
  if (mode == WorkloadMode::kUpstream) {
    w.adjust = [](Options& c, Options& s) {
      RoomyLimits(c, s);
      c.soft_cancel = true;  // a storm of hard cancels would just be a storm of reconnects
    };
  }
  return w;
}

// ShutdownDuringActivity: the server shuts down while many streams are active.
WorkloadConfig ShutdownDuringActivity(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = mode == WorkloadMode::kMux ? 20 : 4;
  w.rpcs_per_caller = 2;
  w.messages_max = 6;
  w.server_shutdown_per_mille = 1000;
  w.wait_for_cancel_per_mille = 100;
  return w;
}

// MixedRPCTypes: every shape at once, with handler errors.
WorkloadConfig Mixed(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = mode == WorkloadMode::kMux ? 30 : 5;
  w.rpcs_per_caller = mode == WorkloadMode::kMux ? 4 : 6;
  w.handler_error_per_mille = 150;
  return w;
}

// ConcurrentCancelCloseTransportClose: cancels, connection closes and transport faults together.
WorkloadConfig CancelCloseTransportClose(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.connections = 2;
  w.callers_per_connection = mode == WorkloadMode::kMux ? 10 : 3;
  w.rpcs_per_caller = 3;
  w.cancel_per_mille = 300;
  w.conn_close_per_mille = 500;
  w.fault_per_mille = 600;
  return w;
}

// ConcurrentUnary / BurstUnary: many unary calls at once on one connection.
WorkloadConfig Unary(WorkloadMode mode, int callers, int rpcs) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = callers;
  w.rpcs_per_caller = rpcs;
  w.client_stream_weight = w.server_stream_weight = w.bidi_weight = 0;
  w.think_max = Duration::Zero();
  w.expect_all_ok = true;
  return w;
}

// CancelIsolation / ErrorIsolation: one stream's cancel or error never touches the others (the
// outcome oracle requires every undisturbed call to end exactly as planned).
WorkloadConfig CancelIsolation(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = 12;
  w.rpcs_per_caller = 2;
  w.cancel_per_mille = 250;
  w.deadline_per_mille = 100;
  w.wait_for_cancel_per_mille = 150;
  return w;
}

WorkloadConfig ErrorIsolation(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = 12;
  w.rpcs_per_caller = 2;
  w.handler_error_per_mille = 400;
  return w;
}

// ConnCloseWithActiveStreams: the client closes its connection under load.
WorkloadConfig ConnClose(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = mode == WorkloadMode::kMux ? 10 : 3;
  w.rpcs_per_caller = 3;
  w.messages_max = 6;
  w.conn_close_per_mille = 1000;
  return w;
}

// TransportCloseTerminatesAllStreams: the transport breaks under load; every call ends (with
// "closed" or its real outcome), none hangs, and a fresh connection works afterwards.
WorkloadConfig TransportClose(WorkloadMode mode) {
  WorkloadConfig w = Base(mode);
  w.callers_per_connection = mode == WorkloadMode::kMux ? 10 : 3;
  w.rpcs_per_caller = 3;
  w.messages_max = 6;
  w.fault_per_mille = 1000;
  return w;
}

#define DRPC_PR54(ident, mux_expr, upstream_expr, seeds, ...)                                      \
  DRPC_SIM_SCENARIO(pr54_mux_##ident, {                                                            \
      .name = "pr54.mux." #ident,                                                                  \
      .description = "PR #54 " #ident " in mux mode",                                              \
      .body = [](SimContext& ctx) { RunWorkload(ctx, mux_expr); },                                 \
      .situations = {__VA_ARGS__},                                                                 \
      .default_seeds = seeds,                                                                      \
  });                                                                                              \
  DRPC_SIM_SCENARIO(pr54_upstream_##ident, {                                                       \
      .name = "pr54.upstream." #ident,                                                             \
      .description = "PR #54 " #ident " in upstream mode",                                         \
      .body = [](SimContext& ctx) { RunWorkload(ctx, upstream_expr); },                            \
      .situations = {},                                                                            \
      .default_seeds = seeds / 2,                                                                  \
  })

DRPC_PR54(SustainedConcurrentStreams, Sustained(WorkloadMode::kMux),
          Sustained(WorkloadMode::kUpstream), 12);
DRPC_PR54(RapidOpenCloseCycles, RapidOpenClose(WorkloadMode::kMux),
          RapidOpenClose(WorkloadMode::kUpstream), 40, situations::kWorkloadAbandonedAStream);
DRPC_PR54(CancelStorm, CancelStorm(WorkloadMode::kMux), CancelStorm(WorkloadMode::kUpstream), 40,
          situations::kWorkloadHandlerWaitedForCancel);
DRPC_PR54(ShutdownDuringActivity, ShutdownDuringActivity(WorkloadMode::kMux),
          ShutdownDuringActivity(WorkloadMode::kUpstream), 40,
          situations::kWorkloadShutdownDuringLoad);
DRPC_PR54(MixedRPCTypes, Mixed(WorkloadMode::kMux), Mixed(WorkloadMode::kUpstream), 30);
DRPC_PR54(ConcurrentCancelCloseTransportClose, CancelCloseTransportClose(WorkloadMode::kMux),
          CancelCloseTransportClose(WorkloadMode::kUpstream), 60,
          situations::kWorkloadClosedABusyConnection, situations::kWorkloadConnectionBroken);
DRPC_PR54(ConcurrentUnary, Unary(WorkloadMode::kMux, 100, 5),
          Unary(WorkloadMode::kUpstream, 20, 5), 8);
DRPC_PR54(BurstUnary, Unary(WorkloadMode::kMux, 400, 1), Unary(WorkloadMode::kUpstream, 50, 1), 6);
DRPC_PR54(CancelIsolation, CancelIsolation(WorkloadMode::kMux),
          CancelIsolation(WorkloadMode::kUpstream), 60);
DRPC_PR54(ErrorIsolation, ErrorIsolation(WorkloadMode::kMux),
          ErrorIsolation(WorkloadMode::kUpstream), 60);
DRPC_PR54(ConnCloseWithActiveStreams, ConnClose(WorkloadMode::kMux),
          ConnClose(WorkloadMode::kUpstream), 60, situations::kWorkloadClosedABusyConnection);
DRPC_PR54(TransportCloseTerminatesAllStreams, TransportClose(WorkloadMode::kMux),
          TransportClose(WorkloadMode::kUpstream), 60, situations::kWorkloadConnectionBroken);

}  // namespace
}  // namespace drpc::sim
