// Replays every regression in corpus/sim/ on every build: seeds (regressions.txt, one
// "<scenario> <seed>  # what it found" per line) and tapes (*.tape, scenario and policy from their
// header). Each was a failing run once; each must now pass. To add one, copy the tape a failing
// sweep saved (or its seed) into corpus/sim/ with a line saying what it found.
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/sweep.h"
#include "sim/tape.h"

namespace drpc::sim {
namespace {

std::string CorpusDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return "corpus/sim";
  return absl::StrCat(srcdir, "/", workspace, "/corpus/sim");
}

std::vector<std::string> Files(const std::string& dir, absl::string_view suffix) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (absl::EndsWith(e->d_name, suffix)) out.push_back(absl::StrCat(dir, "/", e->d_name));
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectPasses(const ScenarioSpec& spec, const RunResult& r, absl::string_view what) {
  EXPECT_TRUE(r.ok()) << what << ": " << FailureClassName(r.failure) << ": " << r.message
                      << "\n  replay: bazel run //tools:sim -- --scenario=" << spec.name << " "
                      << what;
}

TEST(RegressionTest, EverySavedSeedPasses) {
  const std::string path = CorpusDir() + "/regressions.txt";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing " << path;
  std::string line;
  int seeds = 0;
  while (std::getline(in, line)) {
    const std::string uncommented = line.substr(0, line.find('#'));
    absl::string_view text = absl::StripAsciiWhitespace(uncommented);
    if (text.empty()) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(text, ' ', absl::SkipEmpty());
    ASSERT_EQ(fields.size(), 2u) << "bad line in regressions.txt: " << line;
    const ScenarioSpec* spec = ScenarioRegistry::Find(fields[0]);
    ASSERT_NE(spec, nullptr) << "unknown scenario in regressions.txt: " << fields[0];
    uint64_t seed = 0;
    ASSERT_TRUE(absl::SimpleAtoi(fields[1], &seed)) << line;
    ExpectPasses(*spec, RunSeed(spec->body, seed, OptionsFor(*spec)), absl::StrCat("--seed=", seed));
    ++seeds;
  }
  std::printf("%d regression seeds replayed\n", seeds);
  EXPECT_GT(seeds, 0);
}

TEST(RegressionTest, EverySavedTapePasses) {
  for (const std::string& path : Files(CorpusDir(), ".tape")) {
    absl::StatusOr<Tape> tape = Tape::LoadFromFile(path);
    ASSERT_TRUE(tape.ok()) << path << ": " << tape.status();
    auto it = tape->header.find("scenario");
    ASSERT_NE(it, tape->header.end()) << path << " has no scenario in its header";
    const ScenarioSpec* spec = ScenarioRegistry::Find(it->second);
    ASSERT_NE(spec, nullptr) << path << ": unknown scenario " << it->second;
    RunOptions options = OptionsFor(*spec);
    ASSERT_TRUE(ApplyTapeHeader(*tape, options).ok()) << path;
    TapeDecisions decisions(*std::move(tape));
    ExpectPasses(*spec, RunSimulation(spec->body, decisions, options),
                 absl::StrCat("--tape=", path));
  }
}

}  // namespace
}  // namespace drpc::sim
