// The seeds in corpus/sim_tape/ are named after the scenario their first two bytes pick
// (seed-<scenario>-<variant>): those bytes are a key that ScenarioRegistry::FuzzedByKey maps to a
// fuzzed scenario by hash of its name. This test checks that every seed still runs the scenario it
// was made for, says which bytes to write when it does not, and that every fuzzed scenario can be
// picked at all (two names hashing to one key would hide one of them from the fuzzer).
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzz/corpus_files.h"
#include "gtest/gtest.h"
#include "sim/scenario.h"

namespace drpc {
namespace {

// "corpus/sim_tape/seed-race.mux.cancel_vs_close-1" -> "race.mux.cancel_vs_close"; "" for files
// that are not named seeds (crash inputs kept as regressions).
std::string ScenarioOfSeed(const std::string& path) {
  const std::string file = path.substr(path.rfind('/') + 1);
  if (!absl::StartsWith(file, "seed-")) return "";
  const size_t dash = file.rfind('-');
  return dash <= 5 ? "" : file.substr(5, dash - 5);
}

TEST(SimTapeCorpusTest, EveryFuzzedScenarioHasAKeyOfItsOwn) {
  const std::vector<const sim::ScenarioSpec*> fuzzed = sim::ScenarioRegistry::Fuzzed();
  ASSERT_FALSE(fuzzed.empty());
  for (const sim::ScenarioSpec* spec : fuzzed) {
    const sim::ScenarioSpec* picked = sim::ScenarioRegistry::FuzzedByKey(sim::FuzzKeyOf(spec->name));
    EXPECT_EQ(picked, spec) << spec->name << " shares its key " << sim::FuzzKeyOf(spec->name)
                            << " with " << picked->name << ": rename one of them";
  }
}

TEST(SimTapeCorpusTest, EverySeedStillPicksTheScenarioItIsNamedAfter) {
  absl::StatusOr<std::vector<std::string>> files =
      corpus::ListFiles(corpus::RunfilesPath("corpus/sim_tape"));
  ASSERT_TRUE(files.ok()) << files.status();
  std::set<std::string> scenarios_seeded;
  for (const std::string& path : *files) {
    const std::string want = ScenarioOfSeed(path);
    if (want.empty()) continue;
    scenarios_seeded.insert(want);
    absl::StatusOr<std::string> bytes = corpus::ReadFile(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_GE(bytes->size(), 2u) << path << ": shorter than the 2-byte scenario key";
    const uint16_t key = static_cast<uint8_t>((*bytes)[0]) | (static_cast<uint8_t>((*bytes)[1]) << 8);
    const sim::ScenarioSpec* got = sim::ScenarioRegistry::FuzzedByKey(key);
    ASSERT_NE(got, nullptr);
    if (got->name == want) continue;
    const sim::ScenarioSpec* wanted = sim::ScenarioRegistry::Find(want);
    const uint16_t want_key = sim::FuzzKeyOf(want);
    ADD_FAILURE() << path << ": bytes 0-1 pick " << got->name << ", not " << want
                  << (wanted != nullptr && wanted->fuzz && !wanted->expect_failure
                          ? absl::StrCat("; write ", want_key & 0xff, " ", want_key >> 8,
                                         " into bytes 0-1")
                          : std::string("; that scenario is no longer fuzzed: remove the seed"));
  }
  EXPECT_GE(scenarios_seeded.size(), 5u) << "the corpus lost its named seeds";
}

}  // namespace
}  // namespace drpc
