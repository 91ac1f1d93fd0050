// The engine's benchmarks, linked into //sim:sim_benchmark (tools/sim_benchmark.cc has its main):
// costs of the simulator's moving parts, each next to its baseline. Every switch benchmark counts
// single context switches (one direction: loop -> fiber or fiber -> loop) and reports the time per
// switch in its `per_switch` column (items_per_second is switches/s):
//   BM_RawBoostContextSwitch  boost::context::fiber resume into a fiber and back (2 switches)
//   BM_FiberContextSwitch     the same through FiberContext (sanitizer hooks compile away)
//   BM_SimSchedulerSwitch     fibers yielding through SimScheduler: each Yield is 2 switches (fiber
//                             -> loop -> next fiber) plus one random-walk pick among >= 2 runnable
//                             fibers (a tape decision), so per_switch includes half a decision
//   BM_PingPongSeed           one whole seed of a clean 3-round ping-pong (items/s = seeds/s)
//   BM_ToyPingPongScenario    one seed of toy.ping_pong with swarm links and faults (seeds/s)
//   BM_NetworkSegment         the simulator's cost of one network segment with nothing around it:
//                             64 KiB written through the swarm's smallest receive buffer (16 bytes)
//                             to a reader, every 16 bytes a segment with its delivery timer, the
//                             reader's and the writer's wake-ups and the swarm's per-segment
//                             decisions (latency, timer lateness, spurious wake-ups). Its
//                             per_segment is the floor under a simulated RPC made of segments
//                             (swarm.mux: ~2,400 each) when impl/ and the oracles cost nothing.
#include <boost/context/fiber.hpp>

#include "benchmark/benchmark.h"
#include "impl/fiber/fiber_context.h"
#include "impl/fiber/stack_pool.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/toys.h"

namespace drpc::sim {
namespace {

// Reports `switches` single context switches: time per switch and switches/s.
void ReportSwitches(benchmark::State& state, int64_t switches) {
  state.SetItemsProcessed(switches);
  state.counters["per_switch"] = benchmark::Counter(
      static_cast<double>(switches), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_RawBoostContextSwitch(benchmark::State& state) {
  namespace ctx = boost::context;
  bool stop = false;
  ctx::fiber f{[&stop](ctx::fiber&& sink) {
    while (!stop) sink = std::move(sink).resume();
    return std::move(sink);
  }};
  for (auto _ : state) f = std::move(f).resume();  // into the fiber and back: 2 switches
  stop = true;
  f = std::move(f).resume();
  ReportSwitches(state, state.iterations() * 2);
}
BENCHMARK(BM_RawBoostContextSwitch);

void BM_FiberContextSwitch(benchmark::State& state) {
  StackPool pool(StackPool::Options{});
  absl::StatusOr<FiberStack> stack = pool.Allocate();
  DRPC_CHECK_OK(stack.status());
  bool stop = false;
  FiberContext* self = nullptr;
  FiberContext f(pool, *stack, [&] {
    while (!stop) self->Suspend();
  });
  self = &f;
  for (auto _ : state) f.Resume();  // into the fiber and back: 2 switches
  stop = true;
  f.Resume();
  ReportSwitches(state, state.iterations() * 2);
}
BENCHMARK(BM_FiberContextSwitch);

// N >= 2 fibers yield in a loop, so every resume follows a real scheduling decision (with one
// runnable fiber the scheduler makes no pick).
void BM_SimSchedulerSwitch(benchmark::State& state) {
  const int fibers = static_cast<int>(state.range(0));
  int64_t switches = 0;
  uint64_t picks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    SeededDecisions decisions(1);
    Trace trace(Trace::Options{.echo = false, .ring_max_lines = 0});
    SimScheduler sched(decisions, trace, SimScheduler::Options{});
    constexpr int kYields = 10000;
    for (int i = 0; i < fibers; ++i) {
      DRPC_CHECK_OK(sched.Spawn("yielder", [&sched] {
        for (int k = 0; k < kYields; ++k) sched.Yield();
      }));
    }
    state.ResumeTiming();
    sched.Run(Instant::Infinite(), UINT64_MAX);
    // Each time the loop runs a fiber: a switch in and a switch back out.
    switches += 2 * static_cast<int64_t>(sched.stats().switches);
    picks += decisions.count();
  }
  ReportSwitches(state, switches);
  // Close to 1: only the last fiber's final solo yields resume without a pick.
  state.counters["picks_per_yield"] =
      switches == 0 ? 0.0 : static_cast<double>(picks) / static_cast<double>(switches / 2);
}
BENCHMARK(BM_SimSchedulerSwitch)->ArgName("fibers")->Arg(2)->Arg(8)->Unit(benchmark::kMillisecond);

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

void BM_NetworkSegment(benchmark::State& state) {
  constexpr size_t kBytes = 64 * 1024;
  uint64_t seed = 1;
  uint64_t segments = 0, decisions = 0, switches = 0, timers = 0;
  for (auto _ : state) {
    RunResult r = RunSeed(
        [&](SimContext& ctx) {
          SimScheduler::Options& sched = ctx.scheduler().options();
          sched.spurious_wakeup_per_mille = 30;  // the swarm's values when it draws them
          sched.timer_jitter_max = Duration::Micros(200);
          NetworkOptions net;
          net.link.buffer_bytes = 16;
          net.link.latency_min = Duration::Micros(150);
          net.link.latency_max = Duration::Micros(350);
          ctx.network().set_options(net);
          auto [writer, reader] = ctx.network().Pipe("segments", FaultPlan::None());
          WaitGroup done(ctx.env());
          done.Add();
          DRPC_CHECK_OK(ctx.scheduler().Spawn("reader", [&, t = reader.get()] {
            std::string buf(kBytes, '\0');
            for (size_t got = 0; got < kBytes;) {
              absl::StatusOr<size_t> n = t->Read(buf.data(), buf.size());
              DRPC_CHECK_OK(n.status());
              got += *n;
            }
            done.Done();
          }));
          DRPC_CHECK_OK(writer->Write(std::string(kBytes, 'x')));
          done.Wait();
        },
        seed++, RunOptions{});
    if (!r.ok()) state.SkipWithError(r.message.c_str());
    segments += r.network.segments;
    decisions += r.decisions;
    switches += r.switches;
    timers += r.timers;
  }
  const double n = static_cast<double>(segments);
  state.SetItemsProcessed(static_cast<int64_t>(segments));
  state.counters["per_segment"] =
      benchmark::Counter(n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["segments_per_cpu_s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["decisions_per_segment"] = static_cast<double>(decisions) / n;
  state.counters["switches_per_segment"] = static_cast<double>(switches) / n;
  state.counters["timers_per_segment"] = static_cast<double>(timers) / n;
}
BENCHMARK(BM_NetworkSegment)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace drpc::sim
