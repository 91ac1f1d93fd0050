// bazel run -c opt //sim:sim_benchmark
// Costs of the simulator's moving parts, each next to its baseline:
//   BM_RawBoostFiberSwitch   boost::context::fiber resume into a fiber and back (2 switches)
//   BM_FiberContextSwitch    the same through FiberContext (sanitizer hooks compile away)
//   BM_SimSchedulerYield     one Yield through SimScheduler with a random-walk pick per switch
//   BM_PingPongSeed          one whole seed of a clean 3-round ping-pong (seeds/s)
//   BM_ToyPingPongScenario   one seed of toy.ping_pong with swarm links and faults (seeds/s)
#include <boost/context/fiber.hpp>

#include "benchmark/benchmark.h"
#include "impl/fiber/fiber_context.h"
#include "impl/fiber/stack_pool.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/toys.h"

namespace drpc::sim {
namespace {

void BM_RawBoostFiberSwitch(benchmark::State& state) {
  namespace ctx = boost::context;
  bool stop = false;
  ctx::fiber f{[&stop](ctx::fiber&& sink) {
    while (!stop) sink = std::move(sink).resume();
    return std::move(sink);
  }};
  for (auto _ : state) f = std::move(f).resume();
  stop = true;
  f = std::move(f).resume();
  state.SetItemsProcessed(state.iterations() * 2);  // items = context switches
}
BENCHMARK(BM_RawBoostFiberSwitch);

void BM_FiberContextSwitch(benchmark::State& state) {
  StackPool pool(StackPool::Options{});
  bool stop = false;
  FiberContext* self = nullptr;
  FiberContext f(pool, [&] {
    while (!stop) self->Suspend();
  });
  self = &f;
  for (auto _ : state) f.Resume();
  stop = true;
  f.Resume();
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_FiberContextSwitch);

void BM_SimSchedulerYield(benchmark::State& state) {
  const int fibers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    SeededDecisions decisions(1);
    Trace trace(Trace::Options{.echo = false, .ring_max_lines = 0});
    SimScheduler sched(decisions, trace, SimScheduler::Options{});
    constexpr int kYields = 10000;
    for (int i = 0; i < fibers; ++i) {
      sched.Spawn("yielder", [&sched] {
        for (int k = 0; k < kYields; ++k) sched.Yield();
      });
    }
    state.ResumeTiming();
    sched.Run(Instant::Infinite(), UINT64_MAX);
    state.SetItemsProcessed(state.items_processed() + int64_t{fibers} * kYields);
  }
}
BENCHMARK(BM_SimSchedulerYield)->Arg(1)->Arg(2)->Arg(8)->Unit(benchmark::kMillisecond);

void BM_PingPongSeed(benchmark::State& state) {
  uint64_t seed = 1;
  for (auto _ : state) {
    RunResult r = RunSeed(
        [](SimContext& ctx) {
          NetworkOptions net;
          net.link.segment_max_bytes = 7;
          net.link.cut_reads = true;
          ctx.network().set_options(net);
          RunPingPong(ctx, 3, 100, FaultPlan::None());
        },
        seed++, RunOptions{});
    if (!r.ok()) state.SkipWithError(r.message.c_str());
  }
  state.SetItemsProcessed(state.iterations());  // items = seeds
}
BENCHMARK(BM_PingPongSeed)->Unit(benchmark::kMicrosecond);

void BM_ToyPingPongScenario(benchmark::State& state) {
  const ScenarioSpec* spec = ScenarioRegistry::Find("toy.ping_pong");
  const RunOptions options = OptionsFor(*spec);
  uint64_t seed = 1;
  for (auto _ : state) {
    RunResult r = RunSeed(spec->body, seed++, options);
    if (!r.ok()) state.SkipWithError(r.message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ToyPingPongScenario)->Unit(benchmark::kMillisecond)->Iterations(300);

}  // namespace
}  // namespace drpc::sim

BENCHMARK_MAIN();
