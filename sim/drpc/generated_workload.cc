#include "sim/drpc/generated_workload.h"

#include <map>
#include <string>

namespace drpc::sim {

const std::vector<GeneratedKnob>& GeneratedKnobs() {
  static const auto* knobs = new std::vector<GeneratedKnob>{
      {"gen.connections", 3},     // 1..3
      {"gen.callers", 4},         // per connection, 1..4
      {"gen.rpcs", 4},            // per caller, 1..4
      {"gen.messages_max", 8},    // per direction of a streaming call, 0..7
      {"gen.sizes", 3},           // small, up to 4 KiB, up to 140 KB (split into frames)
      {"gen.cancels", 5},         // per call, 0..400 per mille
      {"gen.deadlines", 4},       // 0..300
      {"gen.close_send_early", 4},
      {"gen.abandons", 3},
      {"gen.handler_errors", 4},
      {"gen.wait_for_cancel", 3},
      {"gen.conn_close", 3},      // per connection
      {"gen.shutdown", 2},        // per run
      {"gen.faults", 5},          // per connection, 0..400 per mille
  };
  return *knobs;
}

WorkloadReport RunGeneratedWorkload(SimContext& ctx, WorkloadMode mode,
                                    WorkloadConfig::Sabotage sabotage) {
  std::map<std::string, uint32_t> v;
  for (const GeneratedKnob& k : GeneratedKnobs()) v[k.site] = static_cast<uint32_t>(ctx.Choose(k.site, k.n));
  WorkloadConfig w;
  w.mode = mode;
  w.connections = 1 + static_cast<int>(v["gen.connections"]);
  w.callers_per_connection = 1 + static_cast<int>(v["gen.callers"]);
  w.rpcs_per_caller = 1 + static_cast<int>(v["gen.rpcs"]);
  w.messages_max = v["gen.messages_max"];
  switch (v["gen.sizes"]) {
    case 0: w.message_sizes = {0, 1, 16}; break;
    case 1: w.message_sizes = {0, 1, 16, 300, 4096}; break;
    default: w.message_sizes = {0, 300, 70'000, 140'000}; break;
  }
  w.cancel_per_mille = 100 * v["gen.cancels"];
  w.deadline_per_mille = 100 * v["gen.deadlines"];
  w.close_send_early_per_mille = 100 * v["gen.close_send_early"];
  w.abandon_per_mille = 50 * v["gen.abandons"];
  w.handler_error_per_mille = 100 * v["gen.handler_errors"];
  w.wait_for_cancel_per_mille = 50 * v["gen.wait_for_cancel"];
  w.conn_close_per_mille = 100 * v["gen.conn_close"];
  w.server_shutdown_per_mille = 300 * v["gen.shutdown"];
  w.fault_per_mille = 100 * v["gen.faults"];
  w.sabotage = sabotage;
  return RunWorkload(ctx, w);
}

}  // namespace drpc::sim
