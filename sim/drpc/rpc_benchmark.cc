// The simulator's speed in simulated RPCs, linked into //sim:sim_benchmark (tools/sim_benchmark.cc
// has its main and prints these next to the production runtime's loopback calls):
//   BM_CleanUnary/upstream, /mux  one run of 500 unary calls of 64 bytes on one connection with
//                                 every oracle on, from the all-zero tape (the quiet run: FIFO
//                                 scheduling, whole segments, no latency, no faults or chaos)
//   BM_SwarmMuxSeeds              the swarm.mux scenario over seeds 1..60 (everything drawn: tiny
//                                 windows and split sizes, segmentation, faults, cancels, ...)
// Counters: rpcs_per_cpu_s (calls made, per CPU-second) and events_per_cpu_s (fiber runs plus
// timers fired, per CPU-second).
#include <cstdint>

#include "benchmark/benchmark.h"
#include "sim/drpc/workload.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim {
namespace {

constexpr int kCleanUnaryCalls = 500;
constexpr uint64_t kSwarmSeeds = 60;

void Report(benchmark::State& state, uint64_t rpcs, uint64_t events) {
  state.SetItemsProcessed(static_cast<int64_t>(rpcs));
  state.counters["rpcs_per_cpu_s"] = benchmark::Counter(static_cast<double>(rpcs),
                                                        benchmark::Counter::kIsRate);
  state.counters["events_per_cpu_s"] = benchmark::Counter(static_cast<double>(events),
                                                          benchmark::Counter::kIsRate);
}

uint64_t Events(const RunResult& r) { return r.switches + r.timers; }

void BM_CleanUnary(benchmark::State& state) {
  WorkloadConfig w;
  w.mode = state.range(0) == 0 ? WorkloadMode::kUpstream : WorkloadMode::kMux;
  w.swarm = false;
  w.draw_links = false;
  w.callers_per_connection = 1;
  w.rpcs_per_caller = kCleanUnaryCalls;
  w.client_stream_weight = w.server_stream_weight = w.bidi_weight = 0;
  w.message_sizes = {64};
  w.think_max = Duration::Zero();
  w.probe_after_heal = false;
  w.expect_all_ok = true;
  uint64_t rpcs = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    TapeDecisions quiet{Tape{}};
    RunResult r = RunSimulation([&](SimContext& ctx) { RunWorkload(ctx, w); }, quiet, RunOptions{});
    if (!r.ok()) state.SkipWithError(r.message.c_str());
    rpcs += r.counts["rpcs"];
    events += Events(r);
  }
  Report(state, rpcs, events);
}
BENCHMARK(BM_CleanUnary)->ArgName("mux")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_SwarmMuxSeeds(benchmark::State& state) {
  const ScenarioSpec* spec = ScenarioRegistry::Find("swarm.mux");
  const RunOptions options = OptionsFor(*spec);
  uint64_t rpcs = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    for (uint64_t seed = 1; seed <= kSwarmSeeds; ++seed) {
      RunResult r = RunSeed(spec->body, seed, options);
      if (!r.ok()) state.SkipWithError(r.message.c_str());
      rpcs += r.counts["rpcs"];
      events += Events(r);
    }
  }
  Report(state, rpcs, events);
}
BENCHMARK(BM_SwarmMuxSeeds)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace drpc::sim
