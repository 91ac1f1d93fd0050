// Handlers that never read: client and bidi streams whose handler never calls Recv and ends only
// by its context, while the caller keeps sending. With swarm-drawn Options (tiny receive queues,
// flow control on and off, short stall timeouts), what holds the caller back is the receive queue
// and the transport's back-pressure (upstream, mux without flow control: the stall timeout fails
// the stream) or the fork's credit (mux with flow control: the caller waits for a grant that never
// comes, until its cancel or deadline). Every oracle applies: the queue never exceeds its bounds,
// no other call on the connection is held up beyond the stall timeout, each call ends by its
// context or by a stall the Options allow, and every handler returns.
#include "impl/tunables.h"
#include "sim/drpc/workload.h"
#include "sim/drpc/workload_situations.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

WorkloadConfig NeverReads(SimContext& ctx, WorkloadMode mode) {
  WorkloadConfig w;
  w.mode = mode;
  w.callers_per_connection = 1 + static_cast<int>(ctx.Choose("never_reads.callers", 4));
  w.rpcs_per_caller = 3;
  w.client_stream_weight = 2;
  w.bidi_weight = 2;
  // More requests than the smallest receive queues hold, so a caller meets a full queue.
  w.messages_min = 2;
  w.messages_max = 12;
  w.message_sizes = {1, 300, 4096, 20'000};
  w.never_reads_per_mille = 500;
  w.cancel_per_mille = 200;
  w.deadline_per_mille = 200;
  // The server's stall timeout either beats the callers' cancels and deadlines (up to 20 ms) or
  // not, so both ways a never-read call ends are reached.
  const Duration stall = ctx.Chance("never_reads.short_stall", 500) ? Duration::Millis(2)
                                                                     : tunables::kRecvStallTimeoutDefault;
  w.adjust = [stall](Options&, Options& server) { server.recv_stall_timeout = stall; };
  return w;
}

// Sorted after every other fuzzed scenario ("workload.*"), so the tape fuzzer's corpus seeds keep
// the scenario their first byte picks.
DRPC_SIM_SCENARIO(workload_handler_never_reads_mux, {
    .name = "workload.handler_never_reads.mux",
    .description = "handlers that never read their requests while callers keep sending, mux mode",
    .body = [](SimContext& ctx) { RunWorkload(ctx, NeverReads(ctx, WorkloadMode::kMux)); },
    .situations = {situations::kWorkloadHandlerNeverRead},
    .default_seeds = 60,
});

DRPC_SIM_SCENARIO(workload_handler_never_reads_upstream, {
    .name = "workload.handler_never_reads.upstream",
    .description = "handlers that never read their requests while callers keep sending, upstream mode",
    .body = [](SimContext& ctx) { RunWorkload(ctx, NeverReads(ctx, WorkloadMode::kUpstream)); },
    .situations = {situations::kWorkloadHandlerNeverRead},
    .default_seeds = 40,
});

}  // namespace
}  // namespace drpc::sim
