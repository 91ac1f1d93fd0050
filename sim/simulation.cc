#include "sim/simulation.h"

#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <climits>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "sim/chaos.h"

namespace drpc::sim {
namespace {

// Mixes every answered decision into the trace hash, so two runs with equal hashes made the same
// choices.
class MixingDecisions final : public DecisionSource {
 public:
  MixingDecisions(DecisionSource& inner, Trace& trace)
      : inner_(&inner),
        seeded_(dynamic_cast<SeededDecisions*>(&inner)),
        tape_(dynamic_cast<TapeDecisions*>(&inner)),
        trace_(&trace) {}
  uint64_t Choose(absl::string_view site, uint64_t n) override {
    if (n <= 1) return 0;  // neither counted, recorded nor mixed, by every source's contract
    // A seeded source (every sweep's) or a tape (every replay's) is called directly: both are
    // final, so their Choose inlines here instead of a second virtual call on every decision.
    uint64_t v;
    if (seeded_ != nullptr) {
      v = seeded_->Choose(site, n);
    } else if (tape_ != nullptr) {
      v = tape_->Choose(site, n);
    } else {
      v = inner_->Choose(site, n);
    }
    trace_->MixEvent(0xd1, v);
    return v;
  }
  uint64_t count() const override { return inner_->count(); }
  std::optional<uint64_t> seed() const override { return inner_->seed(); }
  std::optional<std::string> recorded_policy() const override { return inner_->recorded_policy(); }
  void OnPolicy(absl::string_view policy) override { inner_->OnPolicy(policy); }

 private:
  DecisionSource* inner_;
  SeededDecisions* seeded_;  // inner_ when it is a SeededDecisions, else null
  TapeDecisions* tape_;      // inner_ when it is a TapeDecisions, else null
  Trace* trace_;
};

// Objects of failed runs, kept for the life of the process (never destroyed, never reused).
std::vector<std::shared_ptr<void>>* Frozen() {
  static auto* frozen = new std::vector<std::shared_ptr<void>>();
  return frozen;
}

// The options of the run in progress, for a DRPC_CHECK failure.
const RunOptions* g_run_options = nullptr;

// A failed DRPC_CHECK during a run: print the check and the replay command, then exit with the
// crash class's code (tools/sim documents 14; a sweep's worker process reports it the same way).
// _exit, not abort or exit: nothing of the broken run may run again (no atexit handlers, no
// destructors). With exit_on_crash off, return: check.cc prints the message again and aborts.
void OnCheckFailure(absl::string_view message) {
  std::fflush(stdout);
  std::fprintf(stderr, "%.*s\nsimulation crashed (failure class: crash)\n",
               static_cast<int>(message.size()), message.data());
  if (g_run_options != nullptr && !g_run_options->replay_command.empty()) {
    std::fprintf(stderr, "replay: %s\n", g_run_options->replay_command.c_str());
  }
  std::fflush(stderr);
  if (g_run_options != nullptr && g_run_options->recorder != nullptr) {
    Recorder& recorder = *g_run_options->recorder;
    recorder.Failure(recorder.last_time(), FailureClassName(FailureClass::kCrash), message);
  }
  if (g_run_options != nullptr && g_run_options->on_crash) g_run_options->on_crash(message);
  if (g_run_options == nullptr || g_run_options->exit_on_crash) {
    _exit(ExitCodeFor(FailureClass::kCrash));
  }
}

std::string DescribeParked(const std::vector<SimScheduler::ParkedFiber>& parked) {
  std::string out;
  for (const auto& p : parked) {
    absl::StrAppend(&out, "\n  fiber #", p.id, " \"", p.name, "\" parked: ", p.reason);
  }
  return out;
}

}  // namespace

absl::string_view FailureClassName(FailureClass failure) {
  switch (failure) {
    case FailureClass::kNone:
      return "ok";
    case FailureClass::kCorrectness:
      return "correctness";
    case FailureClass::kLiveness:
      return "liveness";
    case FailureClass::kDeadlock:
      return "deadlock";
    case FailureClass::kLeak:
      return "leak";
    case FailureClass::kCrash:
      return "crash";
  }
  return "?";
}

int ExitCodeFor(FailureClass failure) {
  switch (failure) {
    case FailureClass::kNone:
      return 0;
    case FailureClass::kCorrectness:
      return 10;
    case FailureClass::kLiveness:
      return 11;
    case FailureClass::kDeadlock:
      return 12;
    case FailureClass::kLeak:
      return 13;
    case FailureClass::kCrash:
      return 14;
  }
  return 1;
}

void SimContext::Fail(FailureClass failure, std::string message) {
  DRPC_CHECK(failure != FailureClass::kNone);
  if (failure_ == FailureClass::kNone) {
    failure_ = failure;
    message_ = std::move(message);
    // A scenario's own liveness verdict says what it waited for; where every fiber is stuck
    // says why.
    if (failure == FailureClass::kLiveness || failure == FailureClass::kLeak) {
      absl::StrAppend(&message_, "\n  where the fibers are:", DescribeParked(scheduler_->ParkedFibers()));
    }
    Log(absl::StrCat("FAIL (", FailureClassName(failure), "): ", message_));
    if (recorder_ != nullptr) recorder_->Failure(now(), FailureClassName(failure), message_);
  }
  scheduler_->Abort();
}

void SimContext::Check(bool condition, absl::string_view message) {
  if (!condition) Fail(FailureClass::kCorrectness, std::string(message));
}

void SimContext::Log(absl::string_view line) {
  if (trace_->enabled()) trace_->Log(now(), line);
}

void SimContext::Note(absl::string_view text) {
  Log(text);
  if (recorder_ != nullptr) recorder_->Note(now(), text);
}

namespace {

// The runtime of one run. Shared pointers, so a failed run's objects can be kept for ever.
struct SimRuntime {
  std::shared_ptr<SimScheduler> scheduler;
  std::shared_ptr<SimChaos> chaos;
  std::shared_ptr<SimMemoryReturn> memory;
  std::shared_ptr<Env> env;
  std::shared_ptr<SimNetwork> network;
};

// The run's concrete policy: the swarm picks by the seed of a seeded run, takes a tape's recorded
// policy, and is otherwise (fuzzer bytes) a random walk, whose picks the input holds.
PolicySpec RunPolicy(const RunOptions& options, const DecisionSource& decisions) {
  if (options.policy.kind != PolicySpec::Kind::kSwarm) return options.policy;
  if (std::optional<uint64_t> seed = decisions.seed(); seed.has_value()) {
    return ResolvePolicy(options.policy, *seed);
  }
  if (std::optional<std::string> recorded = decisions.recorded_policy(); recorded.has_value()) {
    absl::StatusOr<PolicySpec> spec = PolicySpec::Parse(*recorded);
    if (spec.ok() && spec->kind != PolicySpec::Kind::kSwarm) return *spec;
  }
  PolicySpec random = PolicySpec::Random();
  random.timer_interleave_per_mille = options.policy.timer_interleave_per_mille;
  random.timer_interleave_window = options.policy.timer_interleave_window;
  return random;
}

SimRuntime MakeRuntime(DecisionSource& decisions, Trace& trace, const RunOptions& options,
                       const PolicySpec& policy) {
  SimScheduler::Options scheduler = options.scheduler;
  scheduler.timer_interleave_per_mille = policy.timer_interleave_per_mille;
  scheduler.timer_interleave_window = policy.timer_interleave_window;
  SimRuntime rt;
  rt.scheduler = std::make_shared<SimScheduler>(decisions, trace, scheduler, MakePolicy(policy));
  rt.chaos = std::make_shared<SimChaos>(decisions, options.chaos);
  rt.memory = std::make_shared<SimMemoryReturn>();
  rt.env = std::make_shared<Env>(*rt.scheduler, *rt.scheduler, *rt.chaos, *rt.memory);
  rt.network = std::make_shared<SimNetwork>(*rt.env, decisions, trace, options.network);
  if (options.recorder != nullptr) {
    rt.scheduler->set_recorder(options.recorder);
    rt.network->set_recorder(options.recorder);
    rt.chaos->set_recorder(options.recorder, rt.scheduler.get());
  }
  return rt;
}

// Routes DRPC_CHECK failures to OnCheckFailure while a run is in progress.
class CrashHookScope {
 public:
  explicit CrashHookScope(const RunOptions& options)
      : previous_options_(g_run_options), previous_hook_(SetCheckFailureHook(&OnCheckFailure)) {
    g_run_options = &options;
  }
  ~CrashHookScope() {
    SetCheckFailureHook(previous_hook_);
    g_run_options = previous_options_;
  }
  CrashHookScope(const CrashHookScope&) = delete;
  CrashHookScope& operator=(const CrashHookScope&) = delete;

 private:
  const RunOptions* previous_options_;
  CheckFailureHook previous_hook_;
};

// The verdict on a run whose scenario reported no failure itself: livelock, liveness (time
// limit), deadlock, or leaks left behind once main returned.
void JudgeRun(SimScheduler::Outcome outcome, bool main_done, const RunOptions& options,
              const SimRuntime& rt, RunResult& r) {
  SimScheduler& scheduler = *rt.scheduler;
  if (outcome == SimScheduler::Outcome::kStepLimit) {
    r.failure = FailureClass::kLiveness;
    r.message = absl::StrCat("livelock: ", options.step_limit, " fiber switches without finishing",
                             DescribeParked(scheduler.ParkedFibers()));
    return;
  }
  if (!main_done) {
    if (outcome == SimScheduler::Outcome::kTimeLimit) {
      r.failure = FailureClass::kLiveness;
      r.message = absl::StrCat("virtual time limit of ", options.time_limit.ToString(),
                               " reached before the scenario finished",
                               DescribeParked(scheduler.ParkedFibers()));
    } else {
      r.failure = FailureClass::kDeadlock;
      r.message = absl::StrCat("deadlock: no fiber can run and no timer is pending",
                               DescribeParked(scheduler.ParkedFibers()));
    }
    return;
  }
  std::string leaks;
  if (outcome == SimScheduler::Outcome::kTimeLimit) {
    absl::StrAppend(&leaks, "\n  ", scheduler.pending_timers(),
                    " timer(s) still pending at the time limit");
  }
  leaks += DescribeParked(scheduler.ParkedFibers());
  for (const std::string& open : rt.network->OpenEndpoints()) {
    absl::StrAppend(&leaks, "\n  ", open, " never closed");
  }
  if (!leaks.empty()) {
    r.failure = FailureClass::kLeak;
    r.message = absl::StrCat("leak after the scenario finished:", leaks);
  }
}

void CollectStats(const SimRuntime& rt, const Trace& trace, const DecisionSource& decisions,
                  const RunOptions& options, RunResult& r) {
  r.trace_hash = trace.hash();
  r.decisions = decisions.count();
  r.fibers = rt.scheduler->stats().fibers_spawned;
  r.switches = rt.scheduler->stats().switches;
  r.timers = rt.scheduler->stats().timers_fired;
  r.timers_interleaved = rt.scheduler->stats().timers_interleaved;
  r.virtual_time = rt.scheduler->Now() - Instant();
  r.network = rt.network->stats();
  r.reached.insert(rt.chaos->reached().begin(), rt.chaos->reached().end());
  r.trace_tail = trace.Tail(options.trace.ring_max_lines);
}

// A failed run is frozen, not torn down: its fibers and objects are never destroyed (see the
// header).
void Freeze(const SimRuntime& rt) {
  rt.scheduler->Freeze();
  Frozen()->push_back(rt.scheduler);
  Frozen()->push_back(rt.network);
  Frozen()->push_back(rt.chaos);
  Frozen()->push_back(rt.env);
}

}  // namespace

static_assert(kHeapKeptFreeMaxBytes <= INT_MAX && kHeapBlockFromMapMinBytes <= INT_MAX,
              "mallopt takes an int");

void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  static const bool once = [] {
    // Either setting also turns off glibc's own adjustment of both thresholds. The results are
    // not checked: a sanitizer's allocator answers 0 (not applied), and then nothing is lost but
    // speed.
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(kHeapKeptFreeMaxBytes));
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapBlockFromMapMinBytes));
    return true;
  }();
  (void)once;
#endif
}

RunResult RunSimulation(absl::FunctionRef<void(SimContext&)> scenario, DecisionSource& decisions,
                        const RunOptions& options) {
  KeepFreedMemoryForReuse();
  Trace trace(options.trace);
  MixingDecisions mixing(decisions, trace);
  const PolicySpec policy = RunPolicy(options, decisions);
  decisions.OnPolicy(policy.ToString());
  SimRuntime rt = MakeRuntime(mixing, trace, options, policy);
  SimContext ctx;
  ctx.env_ = rt.env.get();
  ctx.scheduler_ = rt.scheduler.get();
  ctx.network_ = rt.network.get();
  ctx.chaos_ = rt.chaos.get();
  ctx.memory_ = rt.memory.get();
  ctx.decisions_ = &mixing;
  ctx.trace_ = &trace;
  ctx.recorder_ = options.recorder;

  bool main_done = false;
  SimScheduler::Outcome outcome = SimScheduler::Outcome::kIdle;
  {
    CrashHookScope crash_hook(options);
    DRPC_CHECK_OK(rt.scheduler->Spawn("main", [&] {
      scenario(ctx);
      main_done = true;
    }));
    outcome = rt.scheduler->Run(Instant() + options.time_limit, options.step_limit);
  }

  RunResult r;
  if (ctx.failure_ != FailureClass::kNone) {
    r.failure = ctx.failure_;
    r.message = ctx.message_;
  } else {
    JudgeRun(outcome, main_done, options, rt, r);
  }
  if (!r.ok() && options.recorder != nullptr) {
    options.recorder->Failure(rt.scheduler->Now(), FailureClassName(r.failure), r.message);
  }
  r.reached = std::move(ctx.reached_);
  r.counts = std::move(ctx.counts_);
  r.policy = policy.ToString();
  CollectStats(rt, trace, decisions, options, r);
  if (!r.ok()) Freeze(rt);
  return r;
}

RunResult RunSeed(absl::FunctionRef<void(SimContext&)> scenario, uint64_t seed,
                  const RunOptions& options) {
  SeededDecisions decisions(seed);
  return RunSimulation(scenario, decisions, options);
}

}  // namespace drpc::sim
