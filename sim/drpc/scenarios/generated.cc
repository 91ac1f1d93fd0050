// Generated workloads (sim/drpc/generated_workload.h) in each mode: their shape is a list of knobs
// drawn first thing in the run, so a seed draws one and rapidcheck's isolation property
// (properties/isolation_properties_test.cc) generates and shrinks them; the tapes it saves replay
// here (tools/sim --tape). Their default sweeps are short (10 seeds): the property is what explores
// them, and the swarm scenarios sweep the same workload.
#include "sim/drpc/generated_workload.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

DRPC_SIM_SCENARIO(prop_workload_upstream, {
    .name = "prop.workload.upstream",
    .description = "a generated RPC workload (rapidcheck's isolation property), upstream mode",
    .body = [](SimContext& ctx) { RunGeneratedWorkload(ctx, WorkloadMode::kUpstream); },
    .default_seeds = 10,
});

DRPC_SIM_SCENARIO(prop_workload_mux, {
    .name = "prop.workload.mux",
    .description = "a generated RPC workload (rapidcheck's isolation property), mux mode",
    .body = [](SimContext& ctx) { RunGeneratedWorkload(ctx, WorkloadMode::kMux); },
    .default_seeds = 10,
});

DRPC_SIM_SCENARIO(prop_workload_upstream_client_mux_server, {
    .name = "prop.workload.upstream_client_mux_server",
    .description = "a generated RPC workload (rapidcheck's isolation property), upstream clients, mux server",
    .body = [](SimContext& ctx) { RunGeneratedWorkload(ctx, WorkloadMode::kUpstreamClientMuxServer); },
    .default_seeds = 10,
});

}  // namespace
}  // namespace drpc::sim
