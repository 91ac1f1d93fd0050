// The seeds in corpus/sim_tape/ are named after the scenario their first byte picks
// (seed-<scenario>-<variant>). Byte 0 indexes ScenarioRegistry::Fuzzed(), so adding or removing a
// fuzzed scenario shifts what it picks; this test catches the drift and says which byte to write,
// so a seed keeps running the scenario it was made for.
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

TEST(SimTapeCorpusTest, EverySeedStillPicksTheScenarioItIsNamedAfter) {
  const std::vector<const sim::ScenarioSpec*> fuzzed = sim::ScenarioRegistry::Fuzzed();
  ASSERT_FALSE(fuzzed.empty());
  absl::StatusOr<std::vector<std::string>> files =
      corpus::ListFiles(corpus::RunfilesPath("corpus/sim_tape"));
  ASSERT_TRUE(files.ok()) << files.status();
  int seeds = 0;
  for (const std::string& path : *files) {
    const std::string want = ScenarioOfSeed(path);
    if (want.empty()) continue;
    ++seeds;
    absl::StatusOr<std::string> bytes = corpus::ReadFile(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_FALSE(bytes->empty()) << path;
    const std::string got = fuzzed[static_cast<uint8_t>((*bytes)[0]) % fuzzed.size()]->name;
    if (got == want) continue;
    size_t index = 0;
    while (index < fuzzed.size() && fuzzed[index]->name != want) ++index;
    ADD_FAILURE() << path << ": byte 0 picks " << got << ", not " << want
                  << (index < fuzzed.size()
                          ? absl::StrCat("; the fuzzed scenarios changed: write ", index,
                                         " into byte 0")
                          : std::string("; that scenario is no longer fuzzed: remove the seed"));
  }
  EXPECT_GT(seeds, 0) << "no named seeds found";
}

}  // namespace
}  // namespace drpc
