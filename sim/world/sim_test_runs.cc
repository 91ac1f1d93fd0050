// RunSimTest's modes for one run (--seed, --tape) and for --shrink, with --timeline.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/recorder.h"
#include "sim/shrink.h"
#include "sim/sweep.h"
#include "sim/tape.h"
#include "sim/timeline.h"
#include "sim/world/sim_test_internal.h"

namespace drpc::sim::sim_test_internal {
namespace {

// --timeline: a recorder for the run, and the page written after it (or at a crash).
class TimelineOutput {
 public:
  TimelineOutput(RunOptions& run, std::string title, std::string subtitle) {
    const std::string& flag = GlobalSimTestFlags().timeline;
    if (flag.empty()) return;
    path_ = OutputPath(flag);
    options_.title = std::move(title);
    options_.subtitle = std::move(subtitle);
    run.recorder = &recorder_;
    run.on_crash = [this](absl::string_view) { Write(); };
  }
  void Write() {
    if (path_.empty()) return;
    absl::Status s = WriteTimelineHtml(recorder_, options_, path_);
    std::printf("timeline: %s (%s)\n", path_.c_str(), s.ok() ? "written" : s.ToString().c_str());
    std::fflush(stdout);
  }

 private:
  std::string path_;
  Recorder recorder_;
  TimelineOptions options_;
};

void ReportOne(absl::string_view test, const RunResult& r, absl::string_view replay,
               absl::string_view tape) {
  std::printf("%s: %s (%llu decisions, %llu fibers, virtual time %s, trace hash %016llx)\n",
              std::string(test).c_str(), std::string(FailureClassName(r.failure)).c_str(),
              static_cast<unsigned long long>(r.decisions),
              static_cast<unsigned long long>(r.fibers), r.virtual_time.ToString().c_str(),
              static_cast<unsigned long long>(r.trace_hash));
  if (r.ok()) return;
  std::printf("FAIL (%s): %s\n--- last trace lines ---\n%s---\n",
              std::string(FailureClassName(r.failure)).c_str(), r.message.c_str(),
              r.trace_tail.c_str());
  if (!tape.empty()) std::printf("  tape:   %s\n", std::string(tape).c_str());
  std::printf("  replay: %s\n", std::string(replay).c_str());
  ADD_FAILURE() << FailureClassName(r.failure) << ": " << r.message << "\n  replay: " << replay;
}

// The tape at `path`, if it is this test's; else nullopt, with `*other` set to the test it is for
// (or a failure added when it cannot be read).
std::optional<Tape> LoadOwnTape(const ScenarioSpec& spec, const std::string& path,
                                std::string* other) {
  absl::StatusOr<Tape> tape = Tape::LoadFromFile(path);
  if (!tape.ok()) {
    ADD_FAILURE() << path << ": " << tape.status();
    return std::nullopt;
  }
  auto it = tape->header.find("scenario");
  if (it != tape->header.end() && it->second != spec.name) {
    *other = it->second;
    return std::nullopt;
  }
  return *std::move(tape);
}

}  // namespace

void RunOneSeed(const ScenarioSpec& spec, const SimTestOptions& options, uint64_t seed) {
  const SimTestFlags& flags = GlobalSimTestFlags();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  const std::string replay = ReplayWith(spec.name, absl::StrCat("--seed=", seed), options);
  RunOptions run = RunOptionsFor(options, flags.trace, replay);
  TimelineOutput timeline(run, absl::StrCat(spec.name, " seed ", seed), replay);
  SeededDecisions decisions(seed, /*record=*/true);
  const RunResult r = RunSimulation(spec.body, decisions, run);
  timeline.Write();
  std::string tape;
  if (!r.ok()) {
    Tape recorded = decisions.tape();
    SetTapeHeader(recorded, spec.name, seed, run);
    const std::string file = absl::StrCat(spec.name, "-", seed, ".tape");
    if (recorded.SaveToFile(absl::StrCat(OutputDir(), "/", file)).ok()) {
      tape = OutputLocation(file);
    }
  }
  ReportOne(spec.name, r, replay, tape);
}

void RunTape(const ScenarioSpec& spec, const SimTestOptions& options) {
  const SimTestFlags& flags = GlobalSimTestFlags();
  std::string other;
  std::optional<Tape> tape = LoadOwnTape(spec, flags.tape, &other);
  if (!tape.has_value()) {
    if (!other.empty()) GTEST_SKIP() << "the tape is for " << other;
    return;
  }
  std::printf("tape %s (%zu decisions)\n", flags.tape.c_str(), tape->decisions.size());
  std::fflush(stdout);
  const std::string replay = ReplayWith(spec.name, absl::StrCat("--tape=", flags.tape), options);
  RunOptions run = RunOptionsFor(options, flags.trace, replay);
  ASSERT_TRUE(ApplyTapeHeader(*tape, run).ok());
  TimelineOutput timeline(run, absl::StrCat(spec.name, " tape ", flags.tape), replay);
  TapeDecisions decisions(*std::move(tape));
  const RunResult r = RunSimulation(spec.body, decisions, run);
  timeline.Write();
  if (decisions.divergences() > 0) {
    std::printf("the run diverged from the tape %llu times (first: %s): the code changed since "
                "it was recorded\n",
                static_cast<unsigned long long>(decisions.divergences()),
                decisions.first_divergence().c_str());
  }
  ReportOne(spec.name, r, replay, "");
}

void RunShrink(const ScenarioSpec& spec, const SimTestOptions& options) {
  const SimTestFlags& flags = GlobalSimTestFlags();
  std::string other;
  std::optional<Tape> tape = LoadOwnTape(spec, flags.shrink, &other);
  if (!tape.has_value()) {
    if (!other.empty()) GTEST_SKIP() << "the tape is for " << other;
    return;
  }
  std::printf("shrink %s (%zu decisions)\n", flags.shrink.c_str(), tape->decisions.size());
  std::fflush(stdout);
  ShrinkOptions o;
  o.run = RunOptionsFor(options, false, "");
  ASSERT_TRUE(ApplyTapeHeader(*tape, o.run).ok());
  o.time_budget_seconds = 60;
  o.jobs = flags.jobs;
  const ShrinkResult r = ShrinkTape(spec, *tape, o);
  if (!r.status.ok()) {
    ADD_FAILURE() << "cannot shrink " << flags.shrink << ": " << r.status;
    return;
  }
  const std::string file = absl::StrCat(spec.name, ".shrunk.tape");
  const std::string path = absl::StrCat(OutputDir(), "/", file);
  ASSERT_TRUE(r.tape.SaveToFile(path).ok()) << path;
  std::string copy;
  const std::string copied = CopiedOut(file, &copy);
  const std::string replay = absl::StrCat(copy, copy.empty() ? "" : " && ",
                                          ReplayWith(spec.name, absl::StrCat("--tape=", copied), options));
  std::printf("invariant: %s\nbefore: %s\nafter:  %s\nshrink: %llu runs, %llu accepted, %.1fs%s\n"
              "failure: %s\nshrunk tape: %s\n  replay: %s\n",
              r.signature.ToString().c_str(), r.before.ToString().c_str(),
              r.after.ToString().c_str(), static_cast<unsigned long long>(r.runs),
              static_cast<unsigned long long>(r.accepted), r.seconds,
              r.minimal ? "; minimal" : absl::StrCat("; stopped by the ", r.stopped_by).c_str(),
              r.message.c_str(), OutputLocation(file).c_str(), replay.c_str());
  std::fflush(stdout);
  if (!flags.timeline.empty()) {
    RunOptions run = o.run;
    TimelineOutput timeline(run, absl::StrCat(spec.name, " shrunk"), replay);
    TapeDecisions decisions(r.tape);
    RunSimulation(spec.body, decisions, run);
    timeline.Write();
  }
  ADD_FAILURE() << "the shrunk tape fails: " << r.message << "\n  replay: " << replay;
}

}  // namespace drpc::sim::sim_test_internal
