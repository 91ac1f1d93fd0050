// Isolation properties: rapidcheck generates whole RPC workloads — the mode, connections, callers,
// RPCs, message counts and sizes, cancels, deadlines, early closes, abandoned streams, handler
// errors, connection closes, a shutdown, faults (sim/drpc/generated_workload.h's knobs) and the
// seed of the interleaving — and runs each in the simulator with every oracle on: no message
// reaches another stream, is duplicated, reordered, corrupted or lost, and every call ends as its
// own history allows (sim/drpc/workload.h).
//
// A failing workload's tape (its knobs are the tape's first decisions) is saved, and the failure
// names it with a tools/sim replay line; rapidcheck shrinks the workload (fewer connections,
// callers, RPCs, smaller messages, no disturbances, seed 0) and prints the smallest one with its
// reproduce string:
//   bazel test //properties:isolation_properties_test --test_env=RC_PARAMS="reproduce=<string>"
//   bazel run //tools:sim -- --scenario=prop.workload.mux --tape=<the saved tape>
// It runs 25 workloads by default (a few seconds); run it longer with
//   bazel test //properties:isolation_properties_test --test_timeout=3600
//       --test_env=RC_PARAMS="max_success=2000"
// Each workload runs in a forked child, so a crash (a failed DRPC_CHECK) is a reported failure
// and failed runs, which the simulator keeps for ever, do not pile up while rapidcheck shrinks.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "sim/drpc/generated_workload.h"
#include "sim/prng.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/sweep.h"
#include "sim/tape.h"

namespace drpc::properties {
namespace {

using sim::Decision;
using sim::DecisionSource;

// Unless the caller says otherwise, a modest number of workloads (each takes a fraction of a
// second): set before rapidcheck reads its configuration, at the first property.
const bool kDefaultParams = [] {
  setenv("RC_PARAMS", "max_success=25", /*overwrite=*/0);
  return true;
}();

// Answers the generated knobs first, then from a seed; records everything (the replay tape).
class GeneratedDecisions final : public DecisionSource {
 public:
  GeneratedDecisions(std::vector<Decision> prefix, uint64_t seed)
      : prefix_(std::move(prefix)), seeded_(seed) {}
  uint64_t Choose(absl::string_view site, uint64_t n) override {
    if (n <= 1) return 0;
    uint64_t v;
    if (next_ < prefix_.size()) {
      const Decision& d = prefix_[next_++];
      if (d.site != site || d.n != n) {
        mismatch_ = absl::StrCat("the run asked ", site, "/", n, " where the knobs have ", d.site, "/", d.n);
      }
      v = d.value % n;
    } else {
      v = seeded_.Choose(site, n);
    }
    tape_.decisions.push_back({std::string(site), n, v});
    return v;
  }
  uint64_t count() const override { return tape_.decisions.size(); }
  // The policy the run used (not a seed's swarm pick: these runs are not seeded), so the tape
  // replays under it.
  void OnPolicy(absl::string_view policy) override { policy_ = std::string(policy); }
  const std::string& policy() const { return policy_; }
  sim::Tape& tape() { return tape_; }
  const std::string& mismatch() const { return mismatch_; }

 private:
  std::vector<Decision> prefix_;
  size_t next_ = 0;
  sim::SeededDecisions seeded_;
  sim::Tape tape_;
  std::string mismatch_;
  std::string policy_;
};

struct Workload {
  std::string scenario;
  std::vector<Decision> knobs;
  uint64_t seed = 0;
};

// How rapidcheck prints a counterexample.
void showValue(const Workload& w, std::ostream& os) {
  os << w.scenario << " seed=" << w.seed;
  for (const Decision& d : w.knobs) os << " " << d.site << "=" << d.value;
}

// Knob values grow with rapidcheck's size (small workloads first) and shrink towards 0.
rc::Gen<Workload> GenWorkload(std::vector<std::string> scenarios) {
  return rc::gen::exec([scenarios] {
    Workload w;
    w.scenario = *rc::gen::elementOf(scenarios);
    for (const sim::GeneratedKnob& k : sim::GeneratedKnobs()) {
      const uint64_t n = k.n;
      const uint64_t v = *rc::gen::withSize([n](int size) {
        const uint64_t top = std::min<uint64_t>(n - 1, (n * static_cast<uint64_t>(size) + 99) / 100);
        return rc::gen::inRange<uint64_t>(0, top + 1);
      });
      w.knobs.push_back({k.site, k.n, v});
    }
    w.seed = *rc::gen::inRange<uint64_t>(0, 1'000'000);
    return w;
  });
}

std::string TapeDir() {
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return outputs != nullptr ? outputs : "/tmp";
}

// Runs the workload in a forked child. Returns "" if it passed; else the failure, with the path
// of its saved tape and a replay line.
std::string RunIsolated(const Workload& w) {
  const sim::ScenarioSpec* spec = sim::ScenarioRegistry::Find(w.scenario);
  if (spec == nullptr) return absl::StrCat("unknown scenario ", w.scenario);
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    GeneratedDecisions decisions(w.knobs, w.seed);
    sim::RunOptions options = sim::OptionsFor(*spec);
    std::string report;
    auto save = [&](absl::string_view failure) {
      sim::Tape& tape = decisions.tape();
      sim::SetTapeHeader(tape, spec->name, w.seed, options);
      tape.header["policy"] = decisions.policy();
      uint64_t state = w.seed;
      for (const Decision& d : w.knobs) state = state * 31 + d.value;
      const std::string path = absl::StrCat(TapeDir(), "/", spec->name, "-", sim::SplitMix64(state) % 1'000'000'007, ".tape");
      const absl::Status saved = tape.SaveToFile(path);
      report = absl::StrCat(failure, "\n  tape: ", path, saved.ok() ? "" : absl::StrCat(" (", saved.ToString(), ")"),
                            "\n  replay: bazel run //tools:sim -- --scenario=", spec->name, " --tape=", path);
    };
    options.on_crash = [&](absl::string_view message) {
      save(absl::StrCat("crash: ", message));
      (void)!write(fds[1], report.data(), report.size());
    };
    if (int null = open("/dev/null", O_WRONLY); null >= 0) dup2(null, STDERR_FILENO);
    const sim::RunResult r = sim::RunSimulation(spec->body, decisions, options);
    if (!decisions.mismatch().empty()) {
      report = absl::StrCat("the knobs do not match the scenario: ", decisions.mismatch());
    } else if (!r.ok()) {
      save(absl::StrCat(sim::FailureClassName(r.failure), ": ", r.message));
    }
    (void)!write(fds[1], report.data(), report.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) != 0;) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
    if (n < 0 && errno != EINTR) break;
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    return absl::StrCat("the run's process died (status ", status, ")");
  }
  return out;
}

void CheckWorkload(const Workload& w) {
  const std::string failure = RunIsolated(w);
  if (!failure.empty()) RC_FAIL(failure);
}

RC_GTEST_PROP(IsolationProperties, NoMessageCrossesStreamsIsDuplicatedReorderedOrLost, ()) {
  CheckWorkload(*GenWorkload({"prop.workload.upstream", "prop.workload.mux",
                              "prop.workload.upstream_client_mux_server"}));
}

// Records nothing: the planted failure below is expected and must not be reported at exit.
class QuietListener final : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

// The property catches a planted bug (server streams lose their last message), shrinks the
// workload, and its failure names a tape that tools/sim replays to the same failure.
TEST(IsolationProperties, APlantedLostMessageIsFoundShrunkAndReplayable) {
  rc::detail::TestParams params;
  params.seed = 7;
  params.maxSuccess = 200;
  QuietListener listener;
  const rc::detail::TestResult result = rc::detail::checkProperty(
      rc::detail::toProperty([] { CheckWorkload(*GenWorkload({"test.prop.workload.lost_response"})); }),
      rc::detail::TestMetadata{}, params, listener);
  ASSERT_TRUE(result.is<rc::detail::FailureResult>()) << "the planted bug was not found";
  const rc::detail::FailureResult& failure = result.get<rc::detail::FailureResult>();
  std::printf("the shrunk counterexample:\n");
  for (const auto& [type, value] : failure.counterExample) std::printf("  %s\n", value.c_str());
  std::printf("%s\n", failure.description.c_str());
  EXPECT_NE(failure.description.find("server stream ended cleanly after"), std::string::npos);
  const size_t at = failure.description.find("--tape=");
  ASSERT_NE(at, std::string::npos) << "no replay line";
  EXPECT_NE(failure.description.find("replay: bazel run //tools:sim -- --scenario=test.prop.workload.lost_response"),
            std::string::npos);
  const std::string path = std::string(absl::StripAsciiWhitespace(
      std::vector<std::string>(absl::StrSplit(failure.description.substr(at + 7), '\n')).front()));
  // The replay: the saved tape fails the same way.
  absl::StatusOr<sim::Tape> tape = sim::Tape::LoadFromFile(path);
  ASSERT_TRUE(tape.ok()) << tape.status();
  const sim::ScenarioSpec* spec = sim::ScenarioRegistry::Find("test.prop.workload.lost_response");
  sim::TapeDecisions decisions(*tape);
  const sim::RunResult r = sim::RunSimulation(spec->body, decisions, sim::OptionsFor(*spec));
  EXPECT_EQ(r.failure, sim::FailureClass::kCorrectness);
  EXPECT_NE(r.message.find("server stream ended cleanly after"), std::string::npos) << r.message;
  EXPECT_EQ(decisions.divergences(), 0u);
  // Shrunk: rapidcheck shrinks every knob towards 0. Losing a message takes one connection, but
  // with timers interleaving (the default policy) the smallest workloads' runs do not all reach
  // the loss, so the shrinker may stop at two.
  EXPECT_EQ(tape->decisions[0].site, "gen.connections");
  EXPECT_LE(tape->decisions[0].value, 1u);
}

}  // namespace
}  // namespace drpc::properties
