// The wire oracle's relay (a reading end takes the frames the writing end's model parsed instead
// of parsing the same bytes again) must change nothing the oracle sees: every scenario is run over
// seeds both ways and each run's outcome, trace hash and the digest of every frame every model
// checked as received (in order, with the Error and WindowUpdate bodies the checks read) must
// agree. Hand-made exchanges between two tapped ends cover what a passing run never shows: a
// writer whose frames break a rule, whose bytes stop parsing, and a reader that reads a stream
// only part of the way.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/options.h"
#include "proto/frame.h"
#include "sim/drpc/oracle_ab_harness.h"
#include "sim/drpc/test_frames.h"
#include "sim/drpc/wire_oracle.h"

namespace drpc::sim {
namespace {

// Seeds per scenario (at most its default sweep): 2, which keeps this test near a minute in the
// default suite, or RELAY_TEST_SEEDS for a deeper check, e.g.
//   bazel test -c opt //sim/drpc:wire_oracle_relay_test --test_env=RELAY_TEST_SEEDS=30
const AbSwitch kRelay = {
    .reference = "parsed",
    .candidate = "relayed",
    .set = [](AbWay way) { WireOracle::set_relay_for_testing(way == AbWay::kCandidate); },
    .fast_frames = [](const WireOracle::ReceivedProbe& p) { return p.relayed_frames; },
    .seeds_env = "RELAY_TEST_SEEDS",
    .seeds_default = 2,
};

TEST(RelayTest, EveryScenarioSeesTheSameFramesEitherWay) {
  uint64_t relayed_frames = 0;
  const int runs = ExpectEveryScenarioSameBothWays(
      kRelay, [&](const Observed&, const Observed& relayed) {
        relayed_frames += relayed.probe.relayed_frames;
      });
  std::printf("%d runs both ways, %llu frames relayed\n", runs,
              static_cast<unsigned long long>(relayed_frames));
  EXPECT_GT(runs, 100);
  EXPECT_GT(relayed_frames, 10'000u);  // the relay is what the runs used
}

using test_frames::F;
using test_frames::Wire;

// A client end writes `writes` to a server end over a simulated connection with both ends
// tapped; the server reads `read_bytes` of them (all: 0) in reads of at most `read_max_bytes`.
Observed Exchange(const std::vector<std::string>& writes, bool relay, size_t read_bytes = 0,
                  size_t read_max_bytes = 3) {
  if (read_bytes == 0) {
    for (const std::string& w : writes) read_bytes += w.size();
  }
  return ObserveExchange(kRelay, relay ? AbWay::kCandidate : AbWay::kReference, Options{},
                         [&](Transport& client, Transport& server) {
                           for (const std::string& w : writes) ASSERT_TRUE(client.Write(w).ok());
                           ReadExactly(server, read_bytes, read_max_bytes);
                         });
}

TEST(RelayTest, LegalExchangeIsReceivedTheSame) {
  const std::string bytes = Wire({F(Kind::kInvoke, 1, 1, "svc/M"), F(Kind::kMessage, 1, 2, "ab"),
                                  F(Kind::kCloseSend, 1, 3)});
  const Observed parsed = Exchange({bytes}, false);
  const Observed relayed = Exchange({bytes}, true);
  ExpectSame(kRelay, parsed, relayed, "legal");
  EXPECT_TRUE(parsed.reports.empty());
  EXPECT_NE(parsed.probe.digest, 0u);
  EXPECT_EQ(relayed.probe.relayed_frames, 3u);
}

TEST(RelayTest, BrokenRuleIsReportedByBothEndsEitherWay) {
  // A Message before the Invoke, and an Error without its 8-byte code.
  const std::string bytes = Wire({F(Kind::kMessage, 1, 1, "x"), F(Kind::kInvoke, 2, 1, "svc/M"),
                                  F(Kind::kError, 2, 2, "abc")});
  const Observed parsed = Exchange({bytes}, false);
  ExpectSame(kRelay, parsed, Exchange({bytes}, true), "broken rule");
  ASSERT_EQ(parsed.reports.size(), 2u);
}

TEST(RelayTest, BytesThatStopParsingAreReportedByBothEndsEitherWay) {
  // A frame, then a header whose stream ID varint never ends.
  const std::string bytes = Wire({F(Kind::kInvoke, 1, 1, "svc/M")}) +
                            std::string(1, '\x03') + std::string(12, '\xff');
  const Observed parsed = Exchange({bytes}, false);
  ExpectSame(kRelay, parsed, Exchange({bytes}, true), "garbage");
  ASSERT_EQ(parsed.reports.size(), 2u);
  EXPECT_NE(parsed.reports[1].find("received bytes that do not parse"), std::string::npos);
}

TEST(RelayTest, PartlyReadStreamHandsOverOnlyCompleteFrames) {
  const std::string good = Wire({F(Kind::kInvoke, 1, 1, "svc/M"), F(Kind::kMessage, 1, 2, "abcdef"),
                                 F(Kind::kCloseSend, 1, 3)});
  // Bad frames after good ones: a data length over the limit, a stream ID that never ends.
  const std::string overflow = good + "\x05\x01\x04\xff\xff\xff\xff\xff\xff\xff\x7f";
  const std::string endless = good + "\x05" + std::string(12, '\x81');
  for (const std::string& bytes : {good, overflow, endless}) {
    for (size_t read = 1; read < bytes.size(); ++read) {
      const Observed parsed = Exchange({bytes}, false, read, 2);
      ExpectSame(kRelay, parsed, Exchange({bytes}, true, read, 2), absl::StrCat("read ", read));
      // The reader reports a bad frame only once it has read enough of it.
      if (read <= good.size()) {
        EXPECT_LE(parsed.reports.size(), 1u);
      }
    }
  }
}

TEST(RelayTest, HeaderSplitAcrossWritesStopsParsingAtTheSameRead) {
  const std::string good = Wire({F(Kind::kInvoke, 1, 1, "svc/M")});
  const std::string bad = "\x05" + std::string(12, '\x81');
  const std::vector<std::string> writes = {good + bad.substr(0, 1), bad.substr(1, 2), bad.substr(3)};
  for (size_t read = good.size(); read <= good.size() + bad.size(); ++read) {
    const Observed parsed = Exchange(writes, false, read, 1);
    ExpectSame(kRelay, parsed, Exchange(writes, true, read, 1), absl::StrCat("read ", read));
  }
  EXPECT_EQ(Exchange(writes, true).reports.size(), 2u);
}

}  // namespace
}  // namespace drpc::sim
