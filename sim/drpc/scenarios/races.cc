// The race catalogue: named scenarios that aim a workload at one race each (docs/protocol.md §11–§13 and
// the design notes), with timing drawn so both orders of the race occur across seeds, in each
// mode where the race exists. Every oracle of sim/drpc/workload.h judges every run; the situations
// listed per scenario are the race's sides, and a sweep that stops reaching one fails.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "impl/situations.h"
#include "impl/tunables.h"
#include "proto/limits.h"
#include "sim/drpc/workload.h"
#include "sim/scenario.h"
#include "sim/drpc/workload_situations.h"

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
    for (Options* o : {&c, &s}) o->concurrent_streams_max_count = limits::kStreamsDefaultMaxCount;
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
    // The fork's flow control on both ends with a window of a frame and a little more, so grants
    // and overdrafts happen on nearly every message.
    Options::FlowControl flow;
    flow.enabled = true;
    flow.stream_window_bytes = std::max(c.split_bytes, s.split_bytes) + 64;
    flow.grant_threshold_bytes = 16;
    for (Options* o : {&c, &s}) {
      o->flow = flow;
      o->credit_stall_timeout = tunables::kCreditStallTimeoutDefault;
      o->concurrent_streams_max_count = limits::kStreamsDefaultMaxCount;
    }
  };
  return w;
}

void RegisterRace(const std::string& label, WorkloadConfig (*config)(WorkloadMode),
                  std::vector<Situation> mux_situations,
                  std::vector<Situation> upstream_situations) {
  ScenarioRegistry::Register({
      .name = "race.mux." + label,
      .description = "race catalogue (mux): " + label,
      .body = [config](SimContext& ctx) { RunWorkload(ctx, config(WorkloadMode::kMux)); },
      .situations = std::move(mux_situations),
      .default_seeds = 100,
  });
  if (upstream_situations.empty()) return;  // no such race with one stream at a time
  ScenarioRegistry::Register({
      .name = "race.upstream." + label,
      .description = "race catalogue (upstream): " + label,
      .body = [config](SimContext& ctx) { RunWorkload(ctx, config(WorkloadMode::kUpstream)); },
      .situations = std::move(upstream_situations),
      .default_seeds = 100,
  });
}

// Each race lists the situations that prove both of its sides occur (reported by impl/ through
// Env::chaos().Reach, or by the workload); a sweep that stops reaching one fails as blind.
const bool kRacesRegistered = [] {
  RegisterRace("cancel_vs_invoke_metadata", CancelVsInvokeMetadata,
               {situations::kMuxStreamEndedBeforeItsInvokeWasWritten,
                situations::kMuxCancelForAStreamTheServerDoesNotHave,
                situations::kStreamCancelDuringAnOperation},
               {situations::kUpstreamNextStreamWaitedForACancelToBeWritten,
                situations::kUpstreamHardCancelClosedTheConnection,
                situations::kStreamCancelDuringAnOperation});
  RegisterRace("cancel_vs_close", CancelVsClose,
               {situations::kWorkloadAbandonedAStream,
                situations::kStreamCancelDuringAnOperation,
                situations::kMuxPeerEndedAStreamWithWritesQueued,
                situations::kStreamCancelArrivedAfterThePeersCloseSend},
               {situations::kWorkloadAbandonedAStream,
                situations::kStreamCancelDuringAnOperation,
                situations::kStreamRemoteCloseBehindQueuedMessages});
  RegisterRace("cancel_vs_final_message", CancelVsFinalMessage,
               {situations::kStreamCancelDuringAnOperation,
                situations::kConnUnarySendMetTheEndOfItsStream,
                situations::kStreamCancelArrivedAfterThePeersCloseSend},
               {situations::kStreamCancelDuringAnOperation,
                situations::kStreamCancelArrivedAfterThePeersCloseSend});
  RegisterRace("remote_error_vs_local_cancel", RemoteErrorVsCancel,
               {situations::kStreamCancelDuringAnOperation, situations::kMuxFrameForAnEndedStream},
               {situations::kStreamCancelDuringAnOperation,
                situations::kStreamPacketAfterTheStreamEnded});
  // Upstream, a unary Send can no longer meet the end of its stream: opening writes nothing and
  // fails Canceled on a context that ended while it waited, so nothing can end the stream
  // between the open and the Send. The race there is the cancel against the server's end.
  RegisterRace("unary_eof_vs_canceled", UnaryEofVsCanceled,
               {situations::kMuxStreamEndedBeforeItsInvokeWasWritten,
                situations::kMuxPeerEndedAStreamWithWritesQueued,
                situations::kStreamCancelDuringAnOperation},
               {situations::kStreamCancelArrivedAfterThePeersCloseSend,
                situations::kStreamCancelDuringAnOperation});
  RegisterRace("close_vs_transport_failure", CloseVsTransportFailure,
               {situations::kWorkloadClosedABusyConnection,
                situations::kWorkloadFaultStruckAConnection},
               {situations::kWorkloadClosedABusyConnection,
                situations::kWorkloadFaultStruckAConnection});
  RegisterRace("shutdown_vs_new_invoke", ShutdownVsInvoke,
               {situations::kWorkloadShutdownDuringLoad,
                situations::kMuxInvokeRefusedWhileShuttingDown},
               {situations::kWorkloadShutdownDuringLoad,
                situations::kStreamPacketAfterTheStreamEnded});
  RegisterRace("window_update_vs_stream_close", WindowUpdateVsClose,
               {situations::kMuxWindowUpdateForAnUnknownStream,
                situations::kMuxMessageOverdrewTheCredit,
                situations::kMuxGrantRepaidAnOverdraft,
                situations::kMuxStreamEndedWithItsCreditOverdrawn,
                situations::kMuxPeerEndedAStreamWithWritesQueued,
                situations::kMuxInvokeWhileAnotherWindowIsExhausted,
                situations::kWorkloadAbandonedAStream},
               {});
  return true;
}();

DRPC_SIM_SCENARIO(fault_every_offset_mux, {
    .name = "fault.every_offset.mux",
    .description = "reset/FIN/write/read error at every byte offset of a small exchange (mux)",
    .body = [](SimContext& ctx) { RunFaultAtEveryOffset(ctx, WorkloadMode::kMux); },
    .situations = {situations::kWorkloadEveryOffsetSwept, situations::kWorkloadConnectionBroken},
    .default_seeds = 2,
    .fuzz = false,  // one run already places every fault: hundreds of connections per input
});

DRPC_SIM_SCENARIO(fault_every_offset_upstream, {
    .name = "fault.every_offset.upstream",
    .description = "reset/FIN/write/read error at every byte offset of a small exchange (upstream)",
    .body = [](SimContext& ctx) { RunFaultAtEveryOffset(ctx, WorkloadMode::kUpstream); },
    .situations = {situations::kWorkloadEveryOffsetSwept, situations::kWorkloadConnectionBroken},
    .default_seeds = 2,
    .fuzz = false,  // one run already places every fault: hundreds of connections per input
});

}  // namespace
}  // namespace drpc::sim
