#include "sim/world/sim_test.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sim/scenario.h"
#include "sim/sweep.h"
#include "sim/tape.h"
#include "sim/world/shard_summary.h"
#include "sim/world/sim_test_internal.h"

namespace drpc::sim {
namespace sim_test_internal {
namespace {

std::string EnvOr(const char* name, absl::string_view fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

}  // namespace

std::string EnvOrEmpty(const char* name) { return EnvOr(name, ""); }

std::string OutputDir() { return EnvOr("TEST_UNDECLARED_OUTPUTS_DIR", "/tmp/drpc-sim"); }

std::string OutputPath(absl::string_view path) {
  if (absl::StartsWith(path, "/")) return std::string(path);
  return absl::StrCat(OutputDir(), "/", path);
}

namespace {

// bazel-testlogs/<pkg>/<name>[/shard_I_of_N]/test.outputs of the test Bazel runs (TEST_TARGET).
std::string TestOutputsDir(absl::string_view target) {
  absl::string_view label = target;
  absl::ConsumePrefix(&label, "//");
  std::string package(label);  // "//pkg:name" -> "pkg/name"
  for (char& c : package) {
    if (c == ':') c = '/';
  }
  const SimTestFlags& flags = GlobalSimTestFlags();
  const std::string shard =
      flags.shard_count > 1
          ? absl::StrCat("/shard_", flags.shard_index + 1, "_of_", flags.shard_count)
          : "";
  return absl::StrCat("bazel-testlogs/", package, shard, "/test.outputs");
}

// Whether Bazel zips the undeclared outputs: it does by default (--zip_undeclared_test_outputs)
// when it finds `zip` on the test's PATH (its test-setup.sh hides the zip's own path from tests).
bool OutputsZipped() {
  for (absl::string_view dir : absl::StrSplit(EnvOr("PATH", ""), ':', absl::SkipEmpty())) {
    if (access(absl::StrCat(dir, "/zip").c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

// Bazel moves the undeclared outputs to bazel-testlogs (and zips them when `zip` is installed);
// outside Bazel they stay where they were written.
std::string OutputLocation(absl::string_view file) {
  const std::string target = EnvOr("TEST_TARGET", "");
  if (target.empty()) return absl::StrCat(OutputDir(), "/", file);
  return absl::StrCat(file, " in ", TestOutputsDir(target),
                      "/ (outputs.zip when zip is installed)");
}

// Bazel empties test.outputs when the test runs again, so under Bazel the file is copied out
// first, to /tmp/drpc-sim.
std::string CopiedOut(absl::string_view file, std::string* copy) {
  const std::string target = EnvOr("TEST_TARGET", "");
  if (target.empty()) {
    copy->clear();
    return absl::StrCat(OutputDir(), "/", file);
  }
  const std::string outputs = TestOutputsDir(target);
  *copy = OutputsZipped() ? absl::StrCat("mkdir -p /tmp/drpc-sim && unzip -o -q ", outputs,
                                         "/outputs.zip ", file, " -d /tmp/drpc-sim")
                          : absl::StrCat("mkdir -p /tmp/drpc-sim && cp ", outputs, "/", file,
                                         " /tmp/drpc-sim/");
  return absl::StrCat("/tmp/drpc-sim/", file);
}

RunOptions RunOptionsFor(const SimTestOptions& options, bool trace, absl::string_view replay) {
  RunOptions run = options.run;
  run.replay_command = std::string(replay);
  run.trace = {.echo = trace, .ring_max_lines = 60};
  return run;
}

std::string ReplayWith(absl::string_view test, absl::string_view arg,
                       const SimTestOptions& options) {
  const std::string target = EnvOr("TEST_TARGET", "");
  // A disabled test runs only when asked to.
  const bool disabled =
      absl::StrContains(test, ".DISABLED_") || absl::StartsWith(test, "DISABLED_");
  if (target.empty()) {
    return absl::StrCat(GlobalSimTestFlags().argv0, " --gtest_filter=", test,
                        disabled ? " --gtest_also_run_disabled_tests" : "", " ", arg);
  }
  return absl::StrCat("bazel test ", target, options.replay_flags.empty() ? "" : " ",
                      options.replay_flags, " --test_filter=", test, " --test_output=streamed",
                      disabled ? " --test_arg=--gtest_also_run_disabled_tests" : "",
                      " --test_arg=", arg);
}

namespace {

std::string CurrentTestName() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "sim";
  return absl::StrCat(info->test_suite_name(), ".", info->name());
}

// Same seed, same trace hash; and the recorded tape replays to it.
void CheckDeterminism(const ScenarioSpec& spec, const SimTestOptions& options, uint64_t seed) {
  const RunOptions run = RunOptionsFor(options, false, "");
  SeededDecisions recording(seed, /*record=*/true);
  const RunResult first = RunSimulation(spec.body, recording, run);
  const RunResult second = RunSeed(spec.body, seed, run);
  TapeDecisions replay(recording.tape());
  const RunResult replayed = RunSimulation(spec.body, replay, run);
  if (first.trace_hash == second.trace_hash && first.trace_hash == replayed.trace_hash &&
      replay.divergences() == 0) {
    return;
  }
  ADD_FAILURE() << "NONDETERMINISM in " << spec.name << " seed " << seed
                << ": the same seed gave trace hashes " << std::hex << first.trace_hash << ", "
                << second.trace_hash << " and its tape " << replayed.trace_hash << std::dec
                << " (" << replay.divergences()
                << " divergences): the scenario or the code it runs reached real time, threads, "
                   "global randomness, or iterated a hash container or pointer-ordered set "
                   "(docs/simulation.md, \"What your code must not do\")\n  replay: "
                << SimReplayCommand(spec.name, seed, options);
}

// Each regression seed on its own, isolated like a sweep's seed.
void RunRegressions(const ScenarioSpec& spec, const SimTestOptions& options,
                    const SweepOptions& sweep) {
  for (const RegressionSeed& regression : options.regressions) {
    SweepOptions o = sweep;
    o.first_seed = regression.seed;
    o.seeds = 1;
    o.shard_index = 0;
    o.shard_count = 1;
    SweepResult r = Sweep(spec, o);
    if (r.failures.empty()) {
      std::printf("regression seed %llu (found: %s): ok\n",
                  static_cast<unsigned long long>(regression.seed), regression.found.c_str());
      continue;
    }
    const SeedFailure& f = r.failures.front();
    std::printf("regression seed %llu (found: %s): FAIL (%s): %s\n  replay: %s\n",
                static_cast<unsigned long long>(regression.seed), regression.found.c_str(),
                std::string(FailureClassName(f.failure)).c_str(), f.message.c_str(),
                f.replay_command.c_str());
    if (!f.tape_path.empty()) {
      std::printf("  tape:   %s\n", OutputLocation(absl::StrCat(spec.name, "-", f.seed, ".tape")).c_str());
    }
    ADD_FAILURE() << "regression seed " << regression.seed << " (found: " << regression.found
                  << ") fails again: " << FailureClassName(f.failure) << ": " << f.message
                  << "\n  replay: " << f.replay_command;
  }
  std::fflush(stdout);
}

void RunSweep(const ScenarioSpec& spec, const SimTestOptions& options) {
  const SimTestFlags& flags = GlobalSimTestFlags();
  SweepOptions o;
  o.first_seed = flags.first_seed.value_or(options.first_seed);
  o.seeds = flags.seeds.value_or(options.seeds);
  o.shard_index = flags.shard_index;
  o.shard_count = flags.shard_count;
  o.jobs = flags.jobs;
  o.tape_dir = OutputDir();
  o.run = options.run;
  o.replay_template = SimReplayCommand(spec.name, 0, options);
  o.replay_template.replace(o.replay_template.rfind("--seed=0"), 8, "--seed={seed}");
  const uint64_t mine = o.shard_count <= 1 ? o.seeds
                                           : o.seeds / o.shard_count +
                                                 (o.shard_index < o.seeds % o.shard_count ? 1 : 0);
  std::printf("%s: seeds %llu..%llu, shard %llu of %llu: %llu seeds\n", spec.name.c_str(),
              static_cast<unsigned long long>(o.first_seed),
              static_cast<unsigned long long>(o.first_seed + o.seeds - 1),
              static_cast<unsigned long long>(o.shard_index),
              static_cast<unsigned long long>(o.shard_count), static_cast<unsigned long long>(mine));
  std::fflush(stdout);
  SweepResult r = Sweep(spec, o);
  for (std::vector<SeedFailure>* list : {&r.failures, &r.more_failures}) {
    for (SeedFailure& f : *list) {
      if (!f.tape_path.empty()) f.tape_path = OutputLocation(absl::StrCat(spec.name, "-", f.seed, ".tape"));
    }
  }
  PrintSummary(spec, r, stdout);
  for (const std::string& line : ShardReportLines(spec, o, r)) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (!r.failures.empty()) {
    const SeedFailure& f = r.failures.front();
    ADD_FAILURE() << r.failed() << " of " << r.runs << " seeds failed; the first, seed " << f.seed
                  << " (" << FailureClassName(f.failure) << "): " << f.message
                  << "\n  replay: " << f.replay_command;
  }
  for (const std::string& s : r.unreached) {
    ADD_FAILURE() << "BLIND: " << spec.name << " never reached situation \"" << s << "\" in "
                  << r.runs << " seeds";
  }
  bool first_crashed = false;
  for (const SeedFailure& f : r.failures) {
    first_crashed |= f.seed == o.first_seed && f.failure == FailureClass::kCrash;
  }
  if (o.shard_index == 0) RunRegressions(spec, options, o);
  if (options.check_determinism && o.shard_index == 0 && !first_crashed) {
    CheckDeterminism(spec, options, o.first_seed);
  }
}

}  // namespace
}  // namespace sim_test_internal

SimTestFlags& GlobalSimTestFlags() {
  static auto* flags = new SimTestFlags();
  return *flags;
}

absl::Status ParseSimTestFlags(int argc, char** argv, SimTestFlags& flags) {
  if (argc > 0) flags.argv0 = argv[0];
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    uint64_t n = 0;
    if (absl::ConsumePrefix(&arg, "--seed=") && absl::SimpleAtoi(arg, &n)) {
      flags.seed = n;
    } else if (absl::ConsumePrefix(&arg, "--seeds=") && absl::SimpleAtoi(arg, &n) && n > 0) {
      flags.seeds = n;
    } else if (absl::ConsumePrefix(&arg, "--first_seed=") && absl::SimpleAtoi(arg, &n)) {
      flags.first_seed = n;
    } else if (absl::ConsumePrefix(&arg, "--tape=") && !arg.empty()) {
      flags.tape = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--shrink=") && !arg.empty()) {
      flags.shrink = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--timeline=") && !arg.empty()) {
      flags.timeline = std::string(arg);
    } else if (arg == "--trace") {
      flags.trace = true;
    } else if (absl::ConsumePrefix(&arg, "--jobs=") && absl::SimpleAtoi(arg, &n) && n > 0) {
      flags.jobs = static_cast<int>(n);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown or malformed argument ", argv[i],
          "; a simulation test takes --seed=S, --seeds=N, --first_seed=S, --tape=FILE, --trace, "
          "--timeline=FILE.html, --shrink=TAPE, --jobs=N and gtest's flags"));
    }
  }
  return absl::OkStatus();
}

void PrepareSharding(SimTestFlags& flags) {
  uint64_t n = 0;
  if (absl::SimpleAtoi(sim_test_internal::EnvOrEmpty("TEST_TOTAL_SHARDS"), &n) && n > 0) flags.shard_count = n;
  if (absl::SimpleAtoi(sim_test_internal::EnvOrEmpty("TEST_SHARD_INDEX"), &n) && n < flags.shard_count) {
    flags.shard_index = n;
  }
  if (const char* status = std::getenv("TEST_SHARD_STATUS_FILE")) {
    if (std::FILE* f = std::fopen(status, "w")) std::fclose(f);
  }
  // Every test runs on every shard, on its share of the seeds.
  unsetenv("GTEST_TOTAL_SHARDS");
  unsetenv("GTEST_SHARD_INDEX");
}

std::string SimReplayCommand(absl::string_view test, uint64_t seed, const SimTestOptions& options) {
  return sim_test_internal::ReplayWith(test, absl::StrCat("--seed=", seed), options);
}

void RunSimTest(const std::function<void(World&)>& scenario, const SimTestOptions& options) {
  ScenarioSpec spec =
      WorldScenario(sim_test_internal::CurrentTestName(), scenario, options.world);
  spec.situations = options.situations;
  spec.default_seeds = options.seeds;
  const SimTestFlags& flags = GlobalSimTestFlags();
  if (!flags.shrink.empty()) {
    sim_test_internal::RunShrink(spec, options);
  } else if (!flags.tape.empty()) {
    sim_test_internal::RunTape(spec, options);
  } else if (flags.seed.has_value()) {
    sim_test_internal::RunOneSeed(spec, options, *flags.seed);
  } else {
    sim_test_internal::RunSweep(spec, options);
  }
}

}  // namespace drpc::sim
