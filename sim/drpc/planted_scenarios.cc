// Planted protocol bugs, for testing the tools that find, shrink and show bugs (sim/shrink.h,
// sim/timeline.h, properties/). Linked by tests and //tools:sim_with_test_scenarios only, never by
// //tools:sim, so `--all` never runs them.
//
//   test.planted.shared_state  a mux RPC workload whose unary handlers keep their call's ID in
//                              state every handler shares, yield, then reply from it
//                              (WorkloadConfig::Sabotage::kSharedReplyState): a reply reaches the
//                              wrong call only when another unary handler starts in between, which
//                              takes concurrent calls and some interleavings; the outcome oracle
//                              reports it ("wrong unary reply"). The workload also draws cancels,
//                              faults and connection closes, which the bug does not need: a
//                              shrunk tape drops them.
//   test.prop.workload.lost_response
//                              a generated mux workload (sim/drpc/generated_workload.h) whose
//                              server streams send one message fewer than planned
//                              (Sabotage::kDropLastResponse): the isolation property must find it,
//                              shrink it and print a replay line for its tape.
#include "sim/drpc/generated_workload.h"
#include "sim/drpc/workload.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

void PlantedSharedState(SimContext& ctx) {
  WorkloadConfig w;
  w.mode = WorkloadMode::kMux;
  w.connections = 1 + static_cast<int>(ctx.Choose("planted.connections", 2));
  w.callers_per_connection = 1 + static_cast<int>(ctx.Choose("planted.callers", 3));
  w.rpcs_per_caller = 1 + static_cast<int>(ctx.Choose("planted.rpcs", 3));
  w.unary_weight = 4;
  w.messages_max = 3;
  w.cancel_per_mille = ctx.Chance("planted.cancels", 500) ? 150 : 0;
  w.fault_per_mille = ctx.Chance("planted.faults", 500) ? 300 : 0;
  w.conn_close_per_mille = ctx.Chance("planted.conn_close", 300) ? 200 : 0;
  w.heal_after = Duration::Millis(50);
  w.liveness_bound = Duration::Seconds(5);
  w.sabotage = WorkloadConfig::Sabotage::kSharedReplyState;
  RunWorkload(ctx, w);
}

}  // namespace

DRPC_SIM_SCENARIO(test_planted_shared_state,
                  {.name = "test.planted.shared_state",
                   .description = "a planted race: unary handlers share per-call state across a "
                                  "yield (tests of the shrinker, timeline and properties)",
                   .body = PlantedSharedState,
                   .default_seeds = 40,
                   .expect_failure = true});

DRPC_SIM_SCENARIO(test_prop_workload_lost_response,
                  {.name = "test.prop.workload.lost_response",
                   .description = "a generated mux workload whose server streams lose their last "
                                  "message (tests of the isolation property)",
                   .body =
                       [](SimContext& ctx) {
                         RunGeneratedWorkload(ctx, WorkloadMode::kMux,
                                              WorkloadConfig::Sabotage::kDropLastResponse);
                       },
                   .default_seeds = 20,
                   .expect_failure = true});

}  // namespace drpc::sim
