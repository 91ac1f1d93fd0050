// bazel run //tools:sim -- --scenario=NAME [--seed=S | --seeds=N [--first_seed=K] | --tape=FILE]
//                          [--trace] [--save_tape=FILE] [--jobs=J] [--list] [--all]
//                          [--timeline=FILE.html] [--shrink=TAPE [--shrink_out=FILE]]
//
// Runs simulator scenarios. The first line printed is always the seed (or seed range). A single
// run prints its result and statistics; a sweep shows a progress bar with seeds/s and ends with a
// summary by failure class, and for every failure one copy-paste replay command and the path of
// its saved tape. Exit codes: 0 ok, 10 correctness, 11 liveness, 12 deadlock, 13 leak, 14 crash
// (a failed DRPC_CHECK; the replay command goes to stderr), 15 blind (a sweep passed but never
// reached a race situation its scenario lists), 2 usage errors (for a sweep: the highest code
// among its failures).
//
// Scheduling (sim/policy.h): --policy=swarm (the default: a policy per seed), random, fifo, or
// pct[:d=N][:k=N], each with [:ti=N][:tw=D] timer interleaving; --fifo and --pct [--pct_depth=N]
// are shorthands. Replay commands carry --policy unless it is the swarm (the seed alone
// reproduces that); saved tapes record the policy in their header and --tape replays honour it.
// --exhaustive explores every schedule of --seed (or each of --seeds) within --delay_bound
// (sim/explore.h) and says whether the exploration was complete.
//
// --shrink=TAPE minimises a failing tape (sim/shrink.h) and prints before/after sizes, the shrunk
// tape and its replay line; a sweep shrinks its first failure the same way (--shrink_first,
// within --shrink_budget). --timeline=FILE.html draws one run (--seed, --tape, or the shrunk run
// of --shrink) as a self-contained HTML/SVG page (sim/timeline.h). Relative paths are taken from
// the directory `bazel run` was started in.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sim/explore.h"
#include "sim/policy.h"
#include "sim/recorder.h"
#include "sim/scenario.h"
#include "sim/shrink.h"
#include "sim/simulation.h"
#include "sim/sweep.h"
#include "sim/timeline.h"

ABSL_FLAG(std::string, scenario, "", "scenario to run (see --list)");
ABSL_FLAG(bool, list, false, "list the registered scenarios");
ABSL_FLAG(bool, all, false, "sweep every scenario that is not an expected-failure toy");
ABSL_FLAG(int64_t, seed, -1, "run one seed");
ABSL_FLAG(uint64_t, seeds, 0, "sweep this many seeds (0: the scenario's default sweep size)");
ABSL_FLAG(uint64_t, first_seed, 1, "first seed of a sweep");
ABSL_FLAG(std::string, tape, "", "replay a tape file");
ABSL_FLAG(std::string, save_tape, "", "single run: record the decisions to this tape file");
ABSL_FLAG(bool, trace, false, "single run: print the event trace");
ABSL_FLAG(int, jobs, 2, "parallel worker processes for sweeps");
ABSL_FLAG(bool, isolate, true, "sweeps: run seeds in worker processes so crashes are survivable");
ABSL_FLAG(std::string, tape_dir, "", "where failing tapes are saved (default /tmp/drpc-sim)");
ABSL_FLAG(std::string, policy, "swarm",
          "scheduling policy: swarm (a policy per seed), random, fifo, or pct[:d=N][:k=N], each "
          "but fifo with [:ti=PER_MILLE][:tw=DURATION] timer interleaving (a --tape replay uses "
          "the policy in the tape's header)");
ABSL_FLAG(bool, fifo, false, "same as --policy=fifo");
ABSL_FLAG(bool, pct, false, "same as --policy=pct:d=<--pct_depth>");
ABSL_FLAG(int, pct_depth, 3, "bug depth d of --pct: d - 1 priority change points");
ABSL_FLAG(bool, exhaustive, false,
          "explore every schedule of --seed (default 1; or of each of --seeds) within "
          "--delay_bound, stopping at the first failure");
ABSL_FLAG(uint32_t, delay_bound, 2, "--exhaustive: delays per schedule (a pick of the i-th "
          "runnable fiber is i delays, a timer let in early one)");
ABSL_FLAG(uint64_t, exhaustive_schedules, 100000,
          "--exhaustive: stop after this many schedules per seed (0: no limit)");
ABSL_FLAG(absl::Duration, exhaustive_budget, absl::ZeroDuration(),
          "--exhaustive: wall-clock limit (0: none)");

ABSL_FLAG(std::string, shrink, "",
          "shrink this failing tape (scenario from --scenario or the tape's header)");
ABSL_FLAG(std::string, shrink_out, "",
          "where --shrink writes the shrunk tape (default: next to it, NAME.shrunk.tape)");
ABSL_FLAG(bool, shrink_first, true, "sweeps: shrink the first failure (within --shrink_budget)");
ABSL_FLAG(absl::Duration, shrink_budget, absl::Seconds(60),
          "wall-clock limit of one shrink (0: none; then only --shrink_runs bounds it)");
ABSL_FLAG(uint64_t, shrink_runs, 3000, "candidate runs of one shrink");
ABSL_FLAG(std::string, timeline, "",
          "one run (--seed, --tape, or the shrunk run of --shrink): write its timeline here "
          "(a self-contained HTML/SVG page)");
ABSL_FLAG(uint64_t, timeline_events, 4000, "--timeline draws the last this many events");

namespace drpc::sim {
namespace {

// A path as the user meant it: `bazel run` starts us in the runfiles tree, not their directory.
std::string UserPath(const std::string& path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || cwd == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

// Installs a recorder for --timeline; the page is written after the run (or at a crash).
class TimelineOutput {
 public:
  TimelineOutput(RunOptions& options, std::string title, std::string subtitle)
      : path_(UserPath(absl::GetFlag(FLAGS_timeline))) {
    if (path_.empty()) return;
    timeline_.title = std::move(title);
    timeline_.subtitle = std::move(subtitle);
    timeline_.events_max = absl::GetFlag(FLAGS_timeline_events);
    options.recorder = &recorder_;
    options.on_crash = [this](absl::string_view) { Write(stderr); };
  }
  void Write(std::FILE* out) {
    if (path_.empty()) return;
    absl::Status s = WriteTimelineHtml(recorder_, timeline_, path_);
    std::fprintf(out, "timeline: %s (%s)\n", path_.c_str(), s.ok() ? "written" : s.ToString().c_str());
  }

 private:
  std::string path_;
  Recorder recorder_;
  TimelineOptions timeline_;
};

void List() {
  for (const ScenarioSpec* s : ScenarioRegistry::All()) {
    std::printf("%-40s %s%s (default %llu seeds)\n", s->name.c_str(), s->description.c_str(),
                s->expect_failure ? " [expected to fail]" : "",
                static_cast<unsigned long long>(s->default_seeds));
  }
}

std::string TapeDir() {
  std::string dir = absl::GetFlag(FLAGS_tape_dir);
  if (dir.empty()) {
    const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    dir = outputs != nullptr ? outputs : "/tmp/drpc-sim";
  }
  mkdir(dir.c_str(), 0755);
  return dir;
}

void PrintResult(const RunResult& r) {
  std::printf("result: %s\n", std::string(FailureClassName(r.failure)).c_str());
  if (!r.ok()) std::printf("  %s\n", r.message.c_str());
  std::printf("  policy %s\n", r.policy.c_str());
  std::printf("  trace hash %016llx, %llu decisions, %llu fibers, %llu switches, %llu timers "
              "(%llu let in ahead of runnable fibers), virtual time %s\n",
              static_cast<unsigned long long>(r.trace_hash),
              static_cast<unsigned long long>(r.decisions), static_cast<unsigned long long>(r.fibers),
              static_cast<unsigned long long>(r.switches), static_cast<unsigned long long>(r.timers),
              static_cast<unsigned long long>(r.timers_interleaved),
              r.virtual_time.ToString().c_str());
  std::printf("  network: %llu connections, %llu bytes, %llu segments, %llu faults struck\n",
              static_cast<unsigned long long>(r.network.connections),
              static_cast<unsigned long long>(r.network.bytes_written),
              static_cast<unsigned long long>(r.network.segments),
              static_cast<unsigned long long>(r.network.faults_struck));
  for (const std::string& s : r.reached) std::printf("  reached: %s\n", s.c_str());
  if (!r.trace_tail.empty() && !r.ok()) std::printf("last trace lines:\n%s", r.trace_tail.c_str());
}

int RunSingle(const ScenarioSpec& spec, RunOptions options) {
  if (absl::GetFlag(FLAGS_trace)) options.trace = {.echo = true, .ring_max_lines = 0};
  else options.trace = {.echo = false, .ring_max_lines = 40};
  RunResult r;
  const std::string tape_path = UserPath(absl::GetFlag(FLAGS_tape));
  if (!tape_path.empty()) {
    std::printf("tape %s scenario %s\n", tape_path.c_str(), spec.name.c_str());
    absl::StatusOr<Tape> tape = Tape::LoadFromFile(tape_path);
    if (!tape.ok()) {
      std::fprintf(stderr, "%s\n", tape.status().ToString().c_str());
      return 2;
    }
    // The policy is part of the run: a tape recorded under FIFO replays under FIFO.
    if (absl::Status s = ApplyTapeHeader(*tape, options); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", tape_path.c_str(), s.ToString().c_str());
      return 2;
    }
    std::printf("policy %s\n", options.policy.ToString().c_str());
    options.replay_command = absl::StrCat("bazel run //tools:sim -- --scenario=", spec.name,
                                          " --tape=", tape_path);
    TimelineOutput timeline(options, absl::StrCat(spec.name, " tape ", tape_path),
                            options.replay_command);
    TapeDecisions decisions(*std::move(tape));
    r = RunSimulation(spec.body, decisions, options);
    timeline.Write(stdout);
    if (decisions.divergences() > 0 || decisions.exhausted() > 0) {
      std::printf("note: the run diverged from the tape (%llu mismatches, %llu past its end); "
                  "first: %s\n",
                  static_cast<unsigned long long>(decisions.divergences()),
                  static_cast<unsigned long long>(decisions.exhausted()),
                  decisions.first_divergence().c_str());
    }
  } else {
    const uint64_t seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
    std::printf("seed %llu scenario %s\n", static_cast<unsigned long long>(seed), spec.name.c_str());
    std::fflush(stdout);
    options.replay_command = absl::StrCat("bazel run //tools:sim -- --scenario=", spec.name,
                                          " --seed=", seed, ReplayFlags(options));
    const std::string save = UserPath(absl::GetFlag(FLAGS_save_tape));
    TimelineOutput timeline(options, absl::StrCat(spec.name, " seed ", seed, ReplayFlags(options)),
                            options.replay_command);
    SeededDecisions decisions(seed, /*record=*/!save.empty());
    r = RunSimulation(spec.body, decisions, options);
    timeline.Write(stdout);
    if (!save.empty()) {
      Tape tape = decisions.tape();
      SetTapeHeader(tape, spec.name, seed, options);
      absl::Status s = tape.SaveToFile(save);
      std::printf("tape: %s (%s)\n", save.c_str(), s.ok() ? "saved" : s.ToString().c_str());
    }
  }
  PrintResult(r);
  if (!r.ok()) std::printf("replay: %s\n", options.replay_command.c_str());
  return ExitCodeFor(r.failure);
}

ShrinkOptions ShrinkOptionsFor(const RunOptions& options) {
  ShrinkOptions o;
  o.run = options;
  o.max_runs = absl::GetFlag(FLAGS_shrink_runs);
  o.time_budget_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_shrink_budget));
  o.jobs = absl::GetFlag(FLAGS_jobs);
  if (isatty(STDERR_FILENO)) o.progress = [](const ShrinkProgress& p) {
    std::fprintf(stderr, "\r  shrinking: %llu runs, %llu accepted, best %llu decisions, %.0fs   ",
                 static_cast<unsigned long long>(p.runs), static_cast<unsigned long long>(p.accepted),
                 static_cast<unsigned long long>(p.decisions), p.seconds);
  };
  return o;
}

// Prints a shrink's outcome and saves the shrunk tape to `out`. Returns the tool's exit code.
int ReportShrink(const ScenarioSpec& spec, const ShrinkResult& r, const std::string& out) {
  if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
  if (r.status.code() == absl::StatusCode::kFailedPrecondition) {
    std::printf("%s\n", r.status.ToString().c_str());
    return 2;
  }
  std::printf("invariant: %s\n", r.signature.ToString().c_str());
  std::printf("before: %s\n", r.before.ToString().c_str());
  std::printf("after:  %s\n", r.after.ToString().c_str());
  std::printf("shrink: %llu runs, %llu accepted, %.1fs; %s\n",
              static_cast<unsigned long long>(r.runs), static_cast<unsigned long long>(r.accepted),
              r.seconds,
              r.minimal ? "minimal (no pass finds a smaller failing tape)"
                        : absl::StrCat("stopped by the ", r.stopped_by, " (not minimal)").c_str());
  if (!r.status.ok()) {
    std::printf("error: %s\n", r.status.ToString().c_str());
    return 1;
  }
  std::printf("failure: %s\n", std::string(r.message.substr(0, r.message.find('\n'))).c_str());
  absl::Status saved = r.tape.SaveToFile(out);
  std::printf("shrunk tape: %s (%s)\n", out.c_str(), saved.ok() ? "saved" : saved.ToString().c_str());
  std::printf("replay: bazel run //tools:sim -- --scenario=%s --tape=%s\n", spec.name.c_str(), out.c_str());
  std::printf("keep it as a regression: cp %s corpus/sim/ (//sim/drpc:regression_test replays it)\n",
              out.c_str());
  return ExitCodeFor(r.signature.failure);
}

// --shrink=TAPE [--timeline=FILE]: shrinks a failing tape, then optionally draws the shrunk run.
int RunShrink(RunOptions options) {
  const std::string path = UserPath(absl::GetFlag(FLAGS_shrink));
  absl::StatusOr<Tape> tape = Tape::LoadFromFile(path);
  if (!tape.ok()) {
    std::fprintf(stderr, "%s\n", tape.status().ToString().c_str());
    return 2;
  }
  std::string name = absl::GetFlag(FLAGS_scenario);
  if (name.empty() && tape->header.contains("scenario")) name = tape->header.at("scenario");
  const ScenarioSpec* spec = ScenarioRegistry::Find(name);
  if (spec == nullptr) {
    std::fprintf(stderr, "unknown scenario \"%s\" (give --scenario)\n", name.c_str());
    return 2;
  }
  options = OptionsFor(*spec, options);
  if (absl::Status s = ApplyTapeHeader(*tape, options); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), s.ToString().c_str());
    return 2;
  }
  std::printf("shrink %s scenario %s policy %s\n", path.c_str(), spec->name.c_str(),
              options.policy.ToString().c_str());
  std::fflush(stdout);
  std::string out = UserPath(absl::GetFlag(FLAGS_shrink_out));
  if (out.empty()) {
    out = absl::StrCat(absl::EndsWith(path, ".tape") ? path.substr(0, path.size() - 5) : path, ".shrunk.tape");
  }
  const ShrinkResult r = ShrinkTape(*spec, *tape, ShrinkOptionsFor(options));
  const int code = ReportShrink(*spec, r, out);
  if (r.status.ok()) {
    TimelineOutput timeline(options, absl::StrCat(spec->name, " shrunk tape ", out),
                            absl::StrCat("bazel run //tools:sim -- --scenario=", spec->name, " --tape=", out));
    TapeDecisions decisions(r.tape);
    RunSimulation(spec->body, decisions, options);
    timeline.Write(stdout);
  }
  return code;
}

// Shrinks a sweep's first failure (its saved tape, or its seed for a crash).
void ShrinkFirstFailure(const ScenarioSpec& spec, const SweepResult& r, const SweepOptions& o) {
  if (!absl::GetFlag(FLAGS_shrink_first) || r.failures.empty() || o.tape_dir.empty()) return;
  const SeedFailure& f = r.failures.front();
  std::printf("shrinking the first failure (seed %llu) for at most %s (--shrink_first=false skips it)\n",
              static_cast<unsigned long long>(f.seed),
              absl::FormatDuration(absl::GetFlag(FLAGS_shrink_budget)).c_str());
  std::fflush(stdout);
  ShrinkResult shrunk;
  const ShrinkOptions options = ShrinkOptionsFor(OptionsFor(spec, o.run));
  absl::StatusOr<Tape> tape = f.tape_path.empty() ? absl::NotFoundError("no tape")
                                                  : Tape::LoadFromFile(f.tape_path);
  shrunk = tape.ok() ? ShrinkTape(spec, *tape, options) : ShrinkSeed(spec, f.seed, options);
  ReportShrink(spec, shrunk,
               absl::StrCat(o.tape_dir, "/", spec.name, "-", f.seed, ".shrunk.tape"));
}

int RunSweep(const ScenarioSpec& spec, RunOptions options, bool quiet_header = false) {
  SweepOptions o;
  o.first_seed = absl::GetFlag(FLAGS_first_seed);
  o.seeds = absl::GetFlag(FLAGS_seeds) > 0 ? absl::GetFlag(FLAGS_seeds) : spec.default_seeds;
  o.jobs = absl::GetFlag(FLAGS_jobs);
  o.isolate = absl::GetFlag(FLAGS_isolate);
  o.progress = true;
  o.tape_dir = TapeDir();
  o.run = options;
  if (!quiet_header) {
    std::printf("seeds %llu..%llu scenario %s\n", static_cast<unsigned long long>(o.first_seed),
                static_cast<unsigned long long>(o.first_seed + o.seeds - 1), spec.name.c_str());
    std::fflush(stdout);
  }
  SweepResult r = Sweep(spec, o);
  PrintSummary(spec, r, stdout);
  ShrinkFirstFailure(spec, r, o);
  return SweepExitCode(r);
}

absl::StatusOr<PolicySpec> PolicyFromFlags() {
  if (absl::GetFlag(FLAGS_fifo)) return PolicySpec::Fifo();
  if (absl::GetFlag(FLAGS_pct)) {
    return PolicySpec::Parse(absl::StrCat("pct:d=", absl::GetFlag(FLAGS_pct_depth)));
  }
  return PolicySpec::Parse(absl::GetFlag(FLAGS_policy));
}

// --exhaustive: every schedule of each seed within the delay bound (sim/explore.h).
int RunExhaustive(const ScenarioSpec& spec, const RunOptions& options) {
  const bool sweep = absl::GetFlag(FLAGS_seed) < 0 && absl::GetFlag(FLAGS_seeds) > 0;
  const uint64_t first = sweep ? absl::GetFlag(FLAGS_first_seed)
                               : static_cast<uint64_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_seed)));
  const uint64_t seeds = sweep ? absl::GetFlag(FLAGS_seeds) : 1;
  const uint32_t bound = absl::GetFlag(FLAGS_delay_bound);
  std::printf("explore scenario %s seeds %llu..%llu delay bound %u\n", spec.name.c_str(),
              static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(first + seeds - 1), bound);
  std::fflush(stdout);
  uint64_t total = 0;
  double seconds = 0;
  bool all_complete = true;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    ExploreOptions o;
    o.seed = seed;
    o.delay_bound = bound;
    o.max_schedules = absl::GetFlag(FLAGS_exhaustive_schedules);
    o.time_budget_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_exhaustive_budget));
    o.run = options;
    o.run.replay_command = absl::StrCat("bazel run //tools:sim -- --scenario=", spec.name,
                                        " --exhaustive --seed=", seed, " --delay_bound=", bound);
    if (options.policy.kind != PolicySpec::Kind::kSwarm) {
      o.timer_window = options.policy.timer_interleave_window;
    }
    const ExploreResult r = ExploreSchedules(spec.body, o);
    total += r.schedules;
    seconds += r.seconds;
    all_complete = all_complete && r.complete;
    std::printf("  seed %llu: %llu schedules (up to %llu scheduling decisions each) in %.2fs: %s\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(r.schedules),
                static_cast<unsigned long long>(r.decisions_max), r.seconds,
                r.complete ? "complete (every schedule within the bound ran)"
                           : absl::StrCat("incomplete (stopped by ", r.stopped_by, ")").c_str());
    std::fflush(stdout);  // a long exploration shows each seed as it ends
    if (r.first_failure.has_value()) {
      const ExploredFailure& f = *r.first_failure;
      const std::string path = absl::StrCat(TapeDir(), "/", spec.name, "-", seed, "-schedule",
                                            f.schedule, ".tape");
      Tape tape = f.tape;
      tape.header["scenario"] = spec.name;
      absl::Status saved = tape.SaveToFile(path);
      std::printf("FAIL schedule %llu of seed %llu (%s): %s\n",
                  static_cast<unsigned long long>(f.schedule), static_cast<unsigned long long>(seed),
                  std::string(FailureClassName(f.result.failure)).c_str(), f.result.message.c_str());
      std::printf("  tape:   %s (%s)\n", path.c_str(), saved.ok() ? "saved" : saved.ToString().c_str());
      std::printf("  replay: bazel run //tools:sim -- --scenario=%s --tape=%s\n", spec.name.c_str(),
                  path.c_str());
      std::printf("explored %llu schedules in %.2fs until the first failure\n",
                  static_cast<unsigned long long>(total), seconds);
      return ExitCodeFor(f.result.failure);
    }
  }
  std::printf("explored %llu schedules in %.2fs, no failure; %s\n",
              static_cast<unsigned long long>(total), seconds,
              all_complete ? "complete" : "incomplete (see above)");
  return 0;
}

int Main() {
  if (absl::GetFlag(FLAGS_list)) {
    List();
    return 0;
  }
  RunOptions options;
  absl::StatusOr<PolicySpec> policy = PolicyFromFlags();
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", policy.status().ToString().c_str());
    return 2;
  }
  options.policy = *policy;
  if (!absl::GetFlag(FLAGS_shrink).empty()) return RunShrink(options);
  if (absl::GetFlag(FLAGS_all)) {
    int code = 0;
    const uint64_t first = absl::GetFlag(FLAGS_first_seed);
    for (const ScenarioSpec* spec : ScenarioRegistry::All()) {
      if (spec->expect_failure) continue;
      const uint64_t n = absl::GetFlag(FLAGS_seeds) > 0 ? absl::GetFlag(FLAGS_seeds) : spec->default_seeds;
      std::printf("seeds %llu..%llu scenario %s\n", static_cast<unsigned long long>(first),
                  static_cast<unsigned long long>(first + n - 1), spec->name.c_str());
      std::fflush(stdout);
      code = std::max(code, RunSweep(*spec, OptionsFor(*spec, options), /*quiet_header=*/true));
    }
    std::printf("overall: %s\n", code == 0 ? "all scenarios passed" : "FAILURES (see above)");
    return code;
  }
  const std::string name = absl::GetFlag(FLAGS_scenario);
  const ScenarioSpec* spec = ScenarioRegistry::Find(name);
  if (spec == nullptr) {
    std::fprintf(stderr, "unknown scenario \"%s\"; --list shows the registered ones\n", name.c_str());
    return 2;
  }
  options = OptionsFor(*spec, options);
  if (absl::GetFlag(FLAGS_exhaustive)) return RunExhaustive(*spec, options);
  if (absl::GetFlag(FLAGS_seed) >= 0 || !absl::GetFlag(FLAGS_tape).empty()) {
    return RunSingle(*spec, options);
  }
  return RunSweep(*spec, options);
}

}  // namespace
}  // namespace drpc::sim

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "runs drpc-cpp simulator scenarios: --scenario=NAME [--seed=S | --seeds=N | --tape=FILE]");
  absl::ParseCommandLine(argc, argv);
  return drpc::sim::Main();
}
