#include "sim/tape.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "sim/prng.h"

namespace drpc::sim {
namespace {

// The PRNG is pinned: a seed must mean the same run forever, on every machine. These are the
// first outputs of xoshiro256** seeded through SplitMix64 (seed 0 expands to the well-known
// SplitMix64 sequence e220a8397b1dcdaf, 6e789e6aa1b965f4, ...).
TEST(PrngTest, OutputIsPinned) {
  uint64_t sm = 0;
  EXPECT_EQ(SplitMix64(sm), 0xe220a8397b1dcdafull);
  EXPECT_EQ(SplitMix64(sm), 0x6e789e6aa1b965f4ull);
  Prng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
  }
}

// Every saved seed and tape depends on these exact numbers: a change to the generator or to the
// range reduction changes every run. The values were computed once from this implementation; if
// this test fails, the PRNG changed, and every seed in corpus/ and in bug reports means something
// else now.
TEST(PrngTest, FirstOutputsForAFixedSeedArePinned) {
  Prng p(42);
  EXPECT_EQ(p.Next(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(p.Next(), 0x6104d9866d113a7eull);
  EXPECT_EQ(p.Next(), 0xae17533239e499a1ull);
  EXPECT_EQ(p.Next(), 0xecb8ad4703b360a1ull);
}

TEST(PrngTest, BelowOutputsArePinned) {
  Prng p(7);
  // Four draws per n, in this order, from one generator.
  const std::vector<std::pair<uint64_t, std::vector<uint64_t>>> expected = {
      {2, {1, 0, 1, 1}},
      {3, {2, 2, 0, 0}},
      {10, {4, 1, 5, 7}},
      {1000, {938, 880, 451, 560}},
      {1000000007, {256697990, 466258170, 156499909, 133701669}},
      // Just above 2^63: about half the raw draws are rejected, so this pins the rejection loop.
      {(1ull << 63) + 5,
       {6156169240272893089ull, 6913927766047711416ull, 1187635431618996912ull,
        377393329023157745ull}},
  };
  for (const auto& [n, values] : expected) {
    for (uint64_t v : values) EXPECT_EQ(p.Below(n), v) << "n = " << n;
  }
  // What a seeded run's first decisions are: SeededDecisions answers with Below of Prng(seed).
  SeededDecisions d(42);
  std::vector<uint64_t> answers;
  for (int i = 0; i < 8; ++i) answers.push_back(d.Choose("sched.pick", 6));
  EXPECT_EQ(answers, (std::vector<uint64_t>{0, 2, 4, 5, 5, 4, 4, 5}));
}

TEST(PrngTest, BelowStaysInRangeAndCoversIt) {
  Prng p(7);
  for (uint64_t n : {1ull, 2ull, 3ull, 10ull, 1000ull, (1ull << 63) + 5}) {
    for (int i = 0; i < 1000; ++i) EXPECT_LT(p.Below(n), n);
  }
  std::map<uint64_t, int> counts;
  for (int i = 0; i < 60000; ++i) ++counts[p.Below(6)];
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [v, c] : counts) EXPECT_NEAR(c, 10000, 600) << v;
}

TEST(TapeTest, SerializeThenParseRoundTrips) {
  Tape t;
  t.header["scenario"] = "toy.ping_pong";
  t.header["seed"] = "42";
  t.decisions = {{"sched.pick", 3, 1}, {"net.segment", 17, 16}};
  absl::StatusOr<Tape> back = Tape::Parse(t.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->header, t.header);
  ASSERT_EQ(back->decisions.size(), 2u);
  EXPECT_EQ(back->decisions[1].site, "net.segment");
  EXPECT_EQ(back->decisions[1].n, 17u);
  EXPECT_EQ(back->decisions[1].value, 16u);
}

TEST(TapeTest, MalformedLinesAreRejectedWithTheirLineNumber) {
  absl::StatusOr<Tape> t = Tape::Parse("# drpc-sim tape v1\nsched.pick 3 1\nsched.pick three 1\n");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "tape line 3")) << t.status();
  EXPECT_FALSE(Tape::Parse("sched.pick 3 1\n").ok()) << "missing magic line";
  EXPECT_FALSE(Tape::Parse("# drpc-sim tape v1\nx 1 0\n").ok()) << "n must be >= 2";
}

TEST(TapeTest, RecordedDecisionsReplayExactly) {
  SeededDecisions rec(99, /*record=*/true);
  std::vector<uint64_t> answers;
  for (uint64_t n = 2; n < 50; ++n) answers.push_back(rec.Choose("site", n));
  EXPECT_EQ(rec.Choose("trivial", 1), 0u);  // n == 1 is not a decision
  EXPECT_EQ(rec.count(), 48u);
  TapeDecisions replay(rec.tape());
  for (uint64_t n = 2; n < 50; ++n) EXPECT_EQ(replay.Choose("site", n), answers[n - 2]);
  EXPECT_EQ(replay.divergences(), 0u);
}

TEST(TapeTest, ReplayOfAnEditedTapeStaysInRangeAndCountsDivergence) {
  Tape t;
  t.decisions = {{"a", 10, 9}, {"b", 4, 3}};
  TapeDecisions replay(t);
  EXPECT_EQ(replay.Choose("a", 5), 4u);  // 9 % 5: a shrunk range still gets a legal answer
  EXPECT_EQ(replay.Choose("other", 4), 3u);
  EXPECT_EQ(replay.Choose("c", 7), 0u);  // past the end: the default
  EXPECT_EQ(replay.divergences(), 2u);
  EXPECT_EQ(replay.exhausted(), 1u);
  EXPECT_TRUE(absl::StrContains(replay.first_divergence(), "decision 0")) << replay.first_divergence();
}

TEST(TapeTest, ByteDecisionsReadLittleEndianAndDefaultToZero) {
  ByteDecisions d(absl::string_view("\x05\x01\x02", 3));
  EXPECT_EQ(d.Choose("small", 10), 5u);
  EXPECT_EQ(d.Choose("wide", 1000), (0x01 | (0x02 << 8)) % 1000u);
  EXPECT_TRUE(d.exhausted());
  EXPECT_EQ(d.Choose("after", 10), 0u);
}

}  // namespace
}  // namespace drpc::sim
