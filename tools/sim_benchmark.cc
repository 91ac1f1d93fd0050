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
// production calls per CPU-second, with the ratio of each clean unary mode to the same mode in
// production; then the work behind one simulated RPC — heap allocations (counted by this binary's
// operator new during one extra measured pass), decisions, fiber switches, timers, network
// segments and bytes — the counts a speed-up has to cut. When BM_NetworkSegment ran too, the
// swarm row states the bound the engine's cost per segment puts on it (segments per RPC times the
// cost of a segment with nothing around it: the RPCs per CPU-second if impl/ and the oracles cost
// nothing).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "impl/context.h"
#include "impl/runtime/runtime.h"
#include "tools/bench/drpc_bench.h"

namespace drpc {
namespace {

// Heap allocations through operator new, counted while a benchmark's memory pass runs.
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};

[[noreturn]] ABSL_ATTRIBUTE_NOINLINE void ThrowBadAlloc() { throw std::bad_alloc(); }

// Every allocation of the process comes here: inline in operator new (no second call on the
// way to malloc), with nothing held across malloc, so the common path needs no saved register.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void* CountedNew(size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) [[unlikely]] {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) [[unlikely]] ThrowBadAlloc();
  return p;
}

}  // namespace
}  // namespace drpc

// None of these is inlined into this file's own callers, where GCC would pair the malloc and
// free inside them with the other side's operator and warn (-Wmismatched-new-delete).
ABSL_ATTRIBUTE_NOINLINE void* operator new(size_t size) { return drpc::CountedNew(size); }
ABSL_ATTRIBUTE_NOINLINE void* operator new[](size_t size) { return drpc::CountedNew(size); }
ABSL_ATTRIBUTE_NOINLINE void operator delete(void* p) noexcept { std::free(p); }
ABSL_ATTRIBUTE_NOINLINE void operator delete[](void* p) noexcept { std::free(p); }
ABSL_ATTRIBUTE_NOINLINE void operator delete(void* p, size_t) noexcept { std::free(p); }
ABSL_ATTRIBUTE_NOINLINE void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace drpc {
namespace {

// google-benchmark's memory pass: one more run of each benchmark between Start and Stop.
class AllocationCounter final : public benchmark::MemoryManager {
 public:
  void Start() override {
    g_allocations.store(0);
    g_counting.store(true);
  }
  // The Result* overload is the one 1.7's interface still requires (the Result& one calls it).
  void Stop(Result* result) override {
    g_counting.store(false);
    result->num_allocs = g_allocations.load();
  }
};

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
      for (const char* counter :
           {"rpcs_per_cpu_s", "events_per_cpu_s", "calls_per_cpu_s", "rpcs", "decisions_per_rpc",
            "switches_per_rpc", "timers_per_rpc", "segments_per_rpc", "bytes_per_rpc",
            "segments_per_cpu_s"}) {
        auto it = run.counters.find(counter);
        if (it != run.counters.end()) rates_[name][counter] = it->second.value;
      }
      if (run.memory_result != nullptr && run.memory_result->num_allocs > 0) {
        rates_[name]["allocs_per_iter"] = run.allocs_per_iter;
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    // Production calls per CPU-second by mode ("mux:0", "mux:1"), and the engine's segment rate.
    std::map<std::string, double> production;
    double segments_per_cpu_s = 0;
    for (const auto& [name, rates] : rates_) {
      for (const char* mode : {"mux:0", "mux:1"}) {
        if (absl::StartsWith(name, absl::StrCat("BM_ProductionLoopbackUnary/", mode))) {
          production[mode] = rates.at("calls_per_cpu_s");
        }
      }
      if (auto it = rates.find("segments_per_cpu_s"); it != rates.end()) {
        segments_per_cpu_s = it->second;
      }
    }
    std::printf("\nsimulated RPCs per CPU-second (every oracle on) vs the production runtime:\n");
    for (const auto& [name, rates] : rates_) {
      if (auto it = rates.find("rpcs_per_cpu_s"); it != rates.end()) {
        const double events = rates.count("events_per_cpu_s") ? rates.at("events_per_cpu_s") : 0;
        std::printf("  %-36s %10.0f RPCs/CPU-s %12.0f events/CPU-s", name.c_str(), it->second, events);
        for (const auto& [mode, calls] : production) {
          if (absl::StartsWith(name, absl::StrCat("BM_CleanUnary/", mode))) {
            std::printf("  %5.2fx production %s", it->second / calls, mode.c_str());
          }
        }
        for (const Baseline& b : kBeforeSpeedWork) {
          if (!absl::StartsWith(name, b.name_prefix)) continue;
          std::printf("  %4.1fx the %.0f before the speed work (target %.0fx)",
                      it->second / b.rpcs_per_cpu_s, b.rpcs_per_cpu_s, kSpeedUpTarget);
        }
        std::printf("\n");
        PrintWorkPerRpc(rates);
        PrintSegmentBound(rates, segments_per_cpu_s);
      }
      if (auto it = rates.find("calls_per_cpu_s"); it != rates.end()) {
        std::printf("  %-36s %10.0f calls/CPU-s (production runtime, loopback TCP)\n", name.c_str(),
                    it->second);
      }
    }
  }

 private:
  // The work behind one simulated RPC.
  static void PrintWorkPerRpc(const std::map<std::string, double>& rates) {
    auto get = [&](const char* key) {
      auto it = rates.find(key);
      return it == rates.end() ? 0.0 : it->second;
    };
    std::printf("  %-36s per RPC:", "");
    if (get("rpcs") > 0 && get("allocs_per_iter") > 0) {
      std::printf(" %.1f allocations,", get("allocs_per_iter") / get("rpcs"));
    }
    std::printf(" %.1f decisions, %.1f fiber switches, %.1f timers, %.1f segments, %.0f bytes\n",
                get("decisions_per_rpc"), get("switches_per_rpc"), get("timers_per_rpc"),
                get("segments_per_rpc"), get("bytes_per_rpc"));
  }

  // A workload of many segments per RPC (the swarm) is bound by the engine's cost per segment.
  static void PrintSegmentBound(const std::map<std::string, double>& rates,
                                double segments_per_cpu_s) {
    auto it = rates.find("segments_per_rpc");
    if (segments_per_cpu_s <= 0 || it == rates.end() || it->second < 100) return;
    std::printf("  %-36s engine floor: %.0f segments x %.0f ns (BM_NetworkSegment) = at most %.0f "
                "RPCs/CPU-s with impl/ and the oracles free\n",
                "", it->second, 1e9 / segments_per_cpu_s, segments_per_cpu_s / it->second);
  }

  std::map<std::string, std::map<std::string, double>> rates_;
  std::map<std::string, bool> medians_;
};

}  // namespace
}  // namespace drpc

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  drpc::AllocationCounter allocations;
  benchmark::RegisterMemoryManager(&allocations);
  drpc::ComparisonReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
