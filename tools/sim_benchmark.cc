// bazel run -c opt //sim:sim_benchmark [-- --benchmark_filter=...]
//
// The simulator's speed next to the real thing. Links the engine's benchmarks
// (sim/engine_benchmark.cc: switch costs, seeds/s), the simulated-RPC benchmarks
// (sim/drpc/rpc_benchmark.cc: a clean unary workload and swarm.mux, in RPCs and events per
// CPU-second) and, here, the production runtime's loopback calls per CPU-second:
//   BM_ProductionLoopbackUnary/mux:0|1  unary calls of 64 bytes, one in flight, over loopback TCP
//                                       with client and server on one reactor thread
//                                       (tools/bench's kOneReactor placement); CPU time of the
//                                       whole process, kernel included.
// After the table it prints the comparison: simulated RPCs per CPU-second of each workload, and
// production calls per CPU-second, with their ratio.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "benchmark/benchmark.h"
#include "impl/context.h"
#include "impl/runtime/runtime.h"
#include "tools/bench/drpc_bench.h"

namespace drpc {
namespace {

constexpr int kCallsPerIteration = 2000;

void BM_ProductionLoopbackUnary(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<bench::DrpcBench>> b = bench::DrpcBench::Start(
      {.placement = bench::Placement::kOneReactor, .mux = state.range(0) != 0});
  if (!b.ok()) {
    state.SkipWithError(b.status().ToString().c_str());
    return;
  }
  bench::DrpcBench& bench = **b;
  const std::string payload(64, 'u');
  int64_t calls = 0;
  for (auto _ : state) {
    absl::Status st = bench.client_runtime().Run(0, [&](runtime::Reactor& r) -> absl::Status {
      absl::StatusOr<std::unique_ptr<Conn>> conn = bench.Connect(r);
      if (!conn.ok()) return conn.status();
      for (int i = 0; i < kCallsPerIteration; ++i) {
        CallContext ctx(r.env());
        absl::StatusOr<std::string> reply = (*conn)->Invoke(ctx, bench::kUnaryRpc, payload);
        if (!reply.ok()) return reply.status();
      }
      (*conn)->Close();
      return absl::OkStatus();
    });
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    calls += kCallsPerIteration;
  }
  state.SetItemsProcessed(calls);
  state.counters["calls_per_cpu_s"] =
      benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ProductionLoopbackUnary)
    ->ArgName("mux")
    ->Arg(0)
    ->Arg(1)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

// Simulated RPCs per CPU-second before the speed work of issue 19 (sim/README.md, "Simulated RPCs
// per CPU-second"), so the output states the speed-up against the target of 5x.
struct Baseline {
  const char* name_prefix;
  double rpcs_per_cpu_s;
};
constexpr Baseline kBeforeSpeedWork[] = {
    {"BM_CleanUnary/mux:0", 65'600},
    {"BM_CleanUnary/mux:1", 49'300},
    {"BM_SwarmMuxSeeds", 262},
};
constexpr double kSpeedUpTarget = 5;

// The console table, then the comparison from the runs' rate counters (the median when
// --benchmark_repetitions asks for aggregates).
class ComparisonReporter final : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const std::string name = run.run_name.str();
      if (!median && medians_.contains(name)) continue;
      if (median) medians_.insert({name, true});
      for (const char* counter : {"rpcs_per_cpu_s", "events_per_cpu_s", "calls_per_cpu_s"}) {
        auto it = run.counters.find(counter);
        if (it != run.counters.end()) rates_[name][counter] = it->second.value;
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    double production = 0;
    for (const auto& [name, rates] : rates_) {
      if (absl::StartsWith(name, "BM_ProductionLoopbackUnary/mux:0")) {
        production = rates.at("calls_per_cpu_s");
      }
    }
    std::printf("\nsimulated RPCs per CPU-second (every oracle on) vs the production runtime:\n");
    for (const auto& [name, rates] : rates_) {
      if (auto it = rates.find("rpcs_per_cpu_s"); it != rates.end()) {
        const double events = rates.count("events_per_cpu_s") ? rates.at("events_per_cpu_s") : 0;
        std::printf("  %-36s %10.0f RPCs/CPU-s %12.0f events/CPU-s", name.c_str(), it->second, events);
        if (production > 0) std::printf("  %5.2fx production", it->second / production);
        for (const Baseline& b : kBeforeSpeedWork) {
          if (!absl::StartsWith(name, b.name_prefix)) continue;
          std::printf("  %4.1fx the %.0f before the speed work (target %.0fx)",
                      it->second / b.rpcs_per_cpu_s, b.rpcs_per_cpu_s, kSpeedUpTarget);
        }
        std::printf("\n");
      }
      if (auto it = rates.find("calls_per_cpu_s"); it != rates.end()) {
        std::printf("  %-36s %10.0f calls/CPU-s (production runtime, loopback TCP)\n", name.c_str(),
                    it->second);
      }
    }
  }

 private:
  std::map<std::string, std::map<std::string, double>> rates_;
  std::map<std::string, bool> medians_;
};

}  // namespace
}  // namespace drpc

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  drpc::ComparisonReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
