// The simulator's speed in simulated RPCs, linked into //sim:sim_benchmark (tools/sim_benchmark.cc
// has its main and prints these next to the production runtime's loopback calls):
//   BM_CleanUnary/upstream, /mux  one run of 500 unary calls of 64 bytes on one connection with
//                                 every oracle on, from the all-zero tape (the quiet run: FIFO
//                                 scheduling, whole segments, no latency, no faults or chaos)
//   BM_SwarmMuxSeeds              the swarm.mux scenario over seeds 1..60 (everything drawn: tiny
//                                 windows and split sizes, segmentation, faults, cancels, ...)
// Counters: rpcs_per_cpu_s (calls made, per CPU-second) and events_per_cpu_s (fiber runs plus
// timers fired, per CPU-second); the work behind each simulated RPC: rpcs (per iteration, so
// //sim:sim_benchmark can divide its allocation count by it), decisions_per_rpc,
// switches_per_rpc, timers_per_rpc, segments_per_rpc (network segments delivered) and
// bytes_per_rpc (bytes written to the simulated network).
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

// What the runs of one benchmark did, summed.
struct Work {
  uint64_t rpcs = 0;
  uint64_t decisions = 0;
  uint64_t switches = 0;
  uint64_t timers = 0;
  uint64_t segments = 0;
  uint64_t bytes = 0;

  void Add(const RunResult& r) {
    rpcs += r.counts.contains("rpcs") ? r.counts.at("rpcs") : 0;
    decisions += r.decisions;
    switches += r.switches;
    timers += r.timers;
    segments += r.network.segments;
    bytes += r.network.bytes_written;
  }
};

void Report(benchmark::State& state, const Work& w) {
  using benchmark::Counter;
  state.SetItemsProcessed(static_cast<int64_t>(w.rpcs));
  state.counters["rpcs_per_cpu_s"] = Counter(static_cast<double>(w.rpcs), Counter::kIsRate);
  state.counters["events_per_cpu_s"] =
      Counter(static_cast<double>(w.switches + w.timers), Counter::kIsRate);
  state.counters["rpcs"] = Counter(static_cast<double>(w.rpcs), Counter::kAvgIterations);
  const double per = w.rpcs == 0 ? 0 : 1.0 / static_cast<double>(w.rpcs);
  state.counters["decisions_per_rpc"] = static_cast<double>(w.decisions) * per;
  state.counters["switches_per_rpc"] = static_cast<double>(w.switches) * per;
  state.counters["timers_per_rpc"] = static_cast<double>(w.timers) * per;
  state.counters["segments_per_rpc"] = static_cast<double>(w.segments) * per;
  state.counters["bytes_per_rpc"] = static_cast<double>(w.bytes) * per;
}

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
  Work work;
  for (auto _ : state) {
    TapeDecisions quiet{Tape{}};
    RunResult r = RunSimulation([&](SimContext& ctx) { RunWorkload(ctx, w); }, quiet, RunOptions{});
    if (!r.ok()) state.SkipWithError(r.message.c_str());
    work.Add(r);
  }
  Report(state, work);
}
BENCHMARK(BM_CleanUnary)->ArgName("mux")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_SwarmMuxSeeds(benchmark::State& state) {
  const ScenarioSpec* spec = ScenarioRegistry::Find("swarm.mux");
  const RunOptions options = OptionsFor(*spec);
  Work work;
  for (auto _ : state) {
    for (uint64_t seed = 1; seed <= kSwarmSeeds; ++seed) {
      RunResult r = RunSeed(spec->body, seed, options);
      if (!r.ok()) state.SkipWithError(r.message.c_str());
      work.Add(r);
    }
  }
  Report(state, work);
}
BENCHMARK(BM_SwarmMuxSeeds)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace drpc::sim
