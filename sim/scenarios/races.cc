// The race catalogue: named scenarios that aim a workload at one race each (spec §11–§13 and
// the design notes), with timing drawn so both orders of the race occur across seeds, in each
// mode where the race exists. Every oracle of sim/workload.h judges every run; the situations
// listed per scenario are the race's sides, and a sweep that stops reaching one fails.
#include "proto/limits.h"
#include "sim/scenario.h"
#include "sim/workload.h"

namespace drpc::sim {
namespace {

WorkloadConfig RaceBase(WorkloadMode mode) {
  WorkloadConfig w;
  w.mode = mode;
  w.callers_per_connection = 3;
  w.rpcs_per_caller = 3;
  w.message_sizes = {0, 16, 300};
  w.think_max = Duration::Micros(20);
  w.heal_after = Duration::Zero();
  return w;
}

// Cancel vs invoke-metadata: the cancel lands while the metadata and Invoke are being queued,
// written or read; the server never runs a call without its metadata, never keeps metadata of
// a cancelled call, and the connection serves the next call.
WorkloadConfig CancelVsInvokeMetadata(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.cancel_per_mille = 700;
  w.cancel_at_max = Duration::Micros(60);
  return w;
}

// Cancel vs close: the caller cancels while it (or its peer) is closing the stream.
WorkloadConfig CancelVsClose(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.cancel_per_mille = 600;
  w.cancel_at_max = Duration::Micros(300);
  w.abandon_per_mille = 400;
  w.close_send_early_per_mille = 300;
  return w;
}

// Cancel vs the final message: unary and server-stream calls cancelled around the time their
// last reply arrives: the outcome is the reply or Canceled, never EOF or a mix.
WorkloadConfig CancelVsFinalMessage(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.client_stream_weight = w.bidi_weight = 0;
  w.cancel_per_mille = 800;
  w.cancel_at_max = Duration::Micros(400);
  w.draw_links = true;
  return w;
}

// Remote error vs local cancel: handlers fail at once while callers cancel.
WorkloadConfig RemoteErrorVsCancel(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.handler_error_per_mille = 800;
  w.messages_max = 1;
  w.cancel_per_mille = 800;
  w.cancel_at_max = Duration::Micros(200);
  return w;
}

// Unary EOF vs Canceled (the PR #55 race): unary calls whose context ends while the request is
// being written; the outcome is Canceled or DeadlineExceeded, never EOF.
WorkloadConfig UnaryEofVsCanceled(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.client_stream_weight = w.server_stream_weight = w.bidi_weight = 0;
  w.message_sizes = {4096, 70'000};
  w.cancel_per_mille = 600;
  w.cancel_at_max = Duration::Micros(100);
  w.deadline_per_mille = 400;
  w.deadline_max = Duration::Micros(100);
  w.adjust = [](Options& c, Options& s) {
    for (Options* o : {&c, &s}) o->max_concurrent_streams = limits::kStreamsDefaultMaxCount;
  };
  return w;
}

// Close vs transport failure mid-frame: the caller closes its connection while a fault cuts a
// frame (faults land anywhere, log-uniformly, so often inside the first headers).
WorkloadConfig CloseVsTransportFailure(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.connections = 2;
  w.fault_per_mille = 1000;
  w.conn_close_per_mille = 1000;
  w.heal_after = Duration::Millis(50);
  return w;
}

// Server shutdown vs a new Invoke: calls start while the server begins shutting down.
WorkloadConfig ShutdownVsInvoke(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.callers_per_connection = 4;
  w.server_shutdown_per_mille = 1000;
  w.think_max = Duration::Micros(200);
  return w;
}

// Window update vs stream close: small windows, large messages, streams ending (cancel, abandon,
// handler error) while WindowUpdates are in flight.
WorkloadConfig WindowUpdateVsClose(WorkloadMode mode) {
  WorkloadConfig w = RaceBase(mode);
  w.message_sizes = {1000, 5000};
  w.messages_max = 4;
  w.abandon_per_mille = 300;
  w.cancel_per_mille = 300;
  w.cancel_at_max = Duration::Millis(2);
  w.handler_error_per_mille = 200;
  w.adjust = [](Options& c, Options& s) {
    c.flow_control = true;
    for (Options* o : {&c, &s}) {
      o->window_bytes = 64;
      o->max_concurrent_streams = limits::kStreamsDefaultMaxCount;
    }
    c.initial_window_bytes = s.initial_window_bytes = 100;
  };
  return w;
}

#define DRPC_RACE(ident, label, fn, seeds, ...)                                                  \
  DRPC_SIM_SCENARIO(race_mux_##ident, {                                                         \
      .name = "race.mux." label,                                                                 \
      .description = "race catalogue (mux): " label,                                             \
      .body = [](SimContext& ctx) { RunWorkload(ctx, fn(WorkloadMode::kMux)); },                \
      .situations = {__VA_ARGS__},                                                              \
      .default_seeds = seeds,                                                                   \
  });                                                                                           \
  DRPC_SIM_SCENARIO(race_upstream_##ident, {                                                    \
      .name = "race.upstream." label,                                                            \
      .description = "race catalogue (upstream): " label,                                        \
      .body = [](SimContext& ctx) { RunWorkload(ctx, fn(WorkloadMode::kUpstream)); },           \
      .situations = {},                                                                         \
      .default_seeds = seeds,                                                                   \
  })

DRPC_RACE(cancel_vs_invoke_metadata, "cancel_vs_invoke_metadata", CancelVsInvokeMetadata, 100);
DRPC_RACE(cancel_vs_close, "cancel_vs_close", CancelVsClose, 100, "workload.abandoned_a_stream");
DRPC_RACE(cancel_vs_final_message, "cancel_vs_final_message", CancelVsFinalMessage, 100);
DRPC_RACE(remote_error_vs_cancel, "remote_error_vs_local_cancel", RemoteErrorVsCancel, 100);
DRPC_RACE(unary_eof_vs_canceled, "unary_eof_vs_canceled", UnaryEofVsCanceled, 100);
DRPC_RACE(close_vs_transport_failure, "close_vs_transport_failure", CloseVsTransportFailure, 100,
          "workload.closed_a_busy_connection", "workload.fault_struck_a_connection");
DRPC_RACE(shutdown_vs_invoke, "shutdown_vs_new_invoke", ShutdownVsInvoke, 100,
          "workload.shutdown_during_load");

DRPC_SIM_SCENARIO(race_mux_window_update_vs_close, {
    .name = "race.mux.window_update_vs_stream_close",
    .description = "race catalogue (mux): window updates in flight while streams end",
    .body = [](SimContext& ctx) { RunWorkload(ctx, WindowUpdateVsClose(WorkloadMode::kMux)); },
    .situations = {"workload.abandoned_a_stream"},
    .default_seeds = 100,
});

DRPC_SIM_SCENARIO(fault_every_offset_mux, {
    .name = "fault.every_offset.mux",
    .description = "reset/FIN/write/read error at every byte offset of a small exchange (mux)",
    .body = [](SimContext& ctx) { RunFaultAtEveryOffset(ctx, WorkloadMode::kMux); },
    .situations = {"workload.every_offset_swept", "workload.connection_broken"},
    .default_seeds = 2,
});

DRPC_SIM_SCENARIO(fault_every_offset_upstream, {
    .name = "fault.every_offset.upstream",
    .description = "reset/FIN/write/read error at every byte offset of a small exchange (upstream)",
    .body = [](SimContext& ctx) { RunFaultAtEveryOffset(ctx, WorkloadMode::kUpstream); },
    .situations = {"workload.every_offset_swept", "workload.connection_broken"},
    .default_seeds = 2,
});

}  // namespace
}  // namespace drpc::sim
