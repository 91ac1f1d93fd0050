// bazel run //tools:sim -- --scenario=NAME [--seed=S | --seeds=N [--first_seed=K] | --tape=FILE]
//                          [--trace] [--save_tape=FILE] [--jobs=J] [--list] [--all]
//
// Runs simulator scenarios. The first line printed is always the seed (or seed range). A single
// run prints its result and statistics; a sweep shows a progress bar with seeds/s and ends with a
// summary by failure class, and for every failure one copy-paste replay command and the path of
// its saved tape. Exit codes: 0 ok, 10 correctness, 11 liveness, 12 deadlock, 13 leak, 14 crash
// (a failed DRPC_CHECK; the replay command goes to stderr), 15 blind (a sweep passed but never
// reached a race situation its scenario lists), 2 usage errors (for a sweep: the highest code
// among its failures). Replay commands carry --fifo when the run used FIFO; saved
// tapes record the policy in their header (policy=fifo|random) and --tape replays honour it.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/sweep.h"

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
ABSL_FLAG(bool, fifo, false,
          "run fibers in FIFO order instead of a seeded random walk (a --tape replay uses the "
          "policy in the tape's header)");

namespace drpc::sim {
namespace {

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
  std::printf("  trace hash %016llx, %llu decisions, %llu fibers, %llu switches, %llu timers, "
              "virtual time %s\n",
              static_cast<unsigned long long>(r.trace_hash),
              static_cast<unsigned long long>(r.decisions), static_cast<unsigned long long>(r.fibers),
              static_cast<unsigned long long>(r.switches), static_cast<unsigned long long>(r.timers),
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
  const std::string tape_path = absl::GetFlag(FLAGS_tape);
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
    std::printf("policy %s\n", options.fifo_policy ? "fifo" : "random");
    options.replay_command = absl::StrCat("bazel run //tools:sim -- --scenario=", spec.name,
                                          " --tape=", tape_path, ReplayFlags(options));
    TapeDecisions decisions(*std::move(tape));
    r = RunSimulation(spec.body, decisions, options);
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
    const std::string save = absl::GetFlag(FLAGS_save_tape);
    SeededDecisions decisions(seed, /*record=*/!save.empty());
    r = RunSimulation(spec.body, decisions, options);
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
  return SweepExitCode(r);
}

int Main() {
  if (absl::GetFlag(FLAGS_list)) {
    List();
    return 0;
  }
  RunOptions options;
  options.fifo_policy = absl::GetFlag(FLAGS_fifo);
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
