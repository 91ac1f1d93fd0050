// The wire oracle's relay (a reading end takes the frames the writing end's model parsed instead
// of parsing the same bytes again) must change nothing the oracle sees: every scenario is run over
// seeds both ways and each run's outcome, trace hash and the digest of every frame every model
// checked as received (in order, with the Error and WindowUpdate bodies the checks read) must
// agree. Hand-made exchanges between two tapped ends cover what a passing run never shows: a
// writer whose frames break a rule, whose bytes stop parsing, and a reader that reads a stream
// only part of the way.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/options.h"
#include "proto/frame.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/scenario.h"
#include "sim/drpc/test_frames.h"
#include "sim/simulation.h"

namespace drpc::sim {
namespace {

struct Observed {
  RunResult result;
  WireOracle::ReceivedProbe probe;
  std::vector<std::string> reports;  // hand-made exchanges only
};

class RelayTest : public ::testing::Test {
 protected:
  ~RelayTest() override {
    WireOracle::set_relay_for_testing(true);
    WireOracle::set_received_probe_for_testing(nullptr);
  }
};

Observed RunScenario(const ScenarioSpec& spec, uint64_t seed, bool relay) {
  Observed o;
  WireOracle::set_relay_for_testing(relay);
  WireOracle::set_received_probe_for_testing(&o.probe);
  o.result = RunSeed(spec.body, seed, OptionsFor(spec));
  WireOracle::set_received_probe_for_testing(nullptr);
  return o;
}

void ExpectSame(const Observed& parsed, const Observed& relayed, absl::string_view what) {
  EXPECT_EQ(parsed.result.failure, relayed.result.failure) << what;
  EXPECT_EQ(parsed.result.message, relayed.result.message) << what;
  EXPECT_EQ(parsed.result.trace_hash, relayed.result.trace_hash) << what;
  EXPECT_EQ(parsed.result.counts, relayed.result.counts) << what;
  EXPECT_EQ(parsed.probe.digest, relayed.probe.digest) << what;
  EXPECT_EQ(parsed.probe.relayed_frames, 0u) << what;
  EXPECT_EQ(parsed.reports, relayed.reports) << what;
}

// Seeds per scenario (at most its default sweep): 2, which keeps this test near a minute in the
// default suite, or RELAY_TEST_SEEDS for a deeper check, e.g.
//   bazel test -c opt //sim/drpc:wire_oracle_relay_test --test_env=RELAY_TEST_SEEDS=30
uint64_t SeedsMaxCount() {
  const char* v = std::getenv("RELAY_TEST_SEEDS");
  return v == nullptr ? 2 : std::strtoull(v, nullptr, 10);
}

TEST_F(RelayTest, EveryScenarioSeesTheSameFramesEitherWay) {
  const uint64_t seeds_max = SeedsMaxCount();
  int runs = 0;
  uint64_t relayed_frames = 0;
  for (const ScenarioSpec* spec : ScenarioRegistry::All()) {
    const uint64_t seeds = std::min(spec->default_seeds, seeds_max);
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      const Observed parsed = RunScenario(*spec, seed, /*relay=*/false);
      const Observed relayed = RunScenario(*spec, seed, /*relay=*/true);
      ExpectSame(parsed, relayed, absl::StrCat(spec->name, " seed ", seed));
      relayed_frames += relayed.probe.relayed_frames;
      ++runs;
    }
  }
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
  std::string bytes;
  for (const std::string& w : writes) bytes += w;
  Observed o;
  WireOracle::set_relay_for_testing(relay);
  WireOracle::set_received_probe_for_testing(&o.probe);
  if (read_bytes == 0) read_bytes = bytes.size();
  o.result = RunSeed(
      [&](SimContext& ctx) {
        WireOracle oracle([&](std::string why) { o.reports.push_back(std::move(why)); });
        oracle.set_trace(&ctx);
        auto [a, b] = ctx.network().Pipe("relay");
        std::unique_ptr<Transport> client =
            oracle.Tap(std::move(a), "client", WireEndConfig::For(Options{}, /*client=*/true));
        std::unique_ptr<Transport> server =
            oracle.Tap(std::move(b), "server", WireEndConfig::For(Options{}, /*client=*/false));
        for (const std::string& w : writes) ASSERT_TRUE(client->Write(w).ok());
        std::string buf(read_max_bytes, '\0');
        for (size_t got = 0; got < read_bytes;) {
          absl::StatusOr<size_t> n = server->Read(buf.data(), std::min(buf.size(), read_bytes - got));
          ASSERT_TRUE(n.ok());
          got += *n;
        }
        server->Close();
        client->Close();
      },
      1, RunOptions{});
  WireOracle::set_received_probe_for_testing(nullptr);
  return o;
}

TEST_F(RelayTest, LegalExchangeIsReceivedTheSame) {
  const std::string bytes = Wire({F(Kind::kInvoke, 1, 1, "svc/M"), F(Kind::kMessage, 1, 2, "ab"),
                                  F(Kind::kCloseSend, 1, 3)});
  const Observed parsed = Exchange({bytes}, false);
  const Observed relayed = Exchange({bytes}, true);
  ExpectSame(parsed, relayed, "legal");
  EXPECT_TRUE(parsed.reports.empty());
  EXPECT_NE(parsed.probe.digest, 0u);
  EXPECT_EQ(relayed.probe.relayed_frames, 3u);
}

TEST_F(RelayTest, BrokenRuleIsReportedByBothEndsEitherWay) {
  // A Message before the Invoke, and an Error without its 8-byte code.
  const std::string bytes = Wire({F(Kind::kMessage, 1, 1, "x"), F(Kind::kInvoke, 2, 1, "svc/M"),
                                  F(Kind::kError, 2, 2, "abc")});
  const Observed parsed = Exchange({bytes}, false);
  ExpectSame(parsed, Exchange({bytes}, true), "broken rule");
  ASSERT_EQ(parsed.reports.size(), 2u);
}

TEST_F(RelayTest, BytesThatStopParsingAreReportedByBothEndsEitherWay) {
  // A frame, then a header whose stream ID varint never ends.
  const std::string bytes = Wire({F(Kind::kInvoke, 1, 1, "svc/M")}) +
                            std::string(1, '\x03') + std::string(12, '\xff');
  const Observed parsed = Exchange({bytes}, false);
  ExpectSame(parsed, Exchange({bytes}, true), "garbage");
  ASSERT_EQ(parsed.reports.size(), 2u);
  EXPECT_NE(parsed.reports[1].find("received bytes that do not parse"), std::string::npos);
}

TEST_F(RelayTest, PartlyReadStreamHandsOverOnlyCompleteFrames) {
  const std::string good = Wire({F(Kind::kInvoke, 1, 1, "svc/M"), F(Kind::kMessage, 1, 2, "abcdef"),
                                 F(Kind::kCloseSend, 1, 3)});
  // Bad frames after good ones: a data length over the limit, a stream ID that never ends.
  const std::string overflow = good + "\x05\x01\x04\xff\xff\xff\xff\xff\xff\xff\x7f";
  const std::string endless = good + "\x05" + std::string(12, '\x81');
  for (const std::string& bytes : {good, overflow, endless}) {
    for (size_t read = 1; read < bytes.size(); ++read) {
      const Observed parsed = Exchange({bytes}, false, read, 2);
      ExpectSame(parsed, Exchange({bytes}, true, read, 2), absl::StrCat("read ", read));
      // The reader reports a bad frame only once it has read enough of it.
      if (read <= good.size()) {
        EXPECT_LE(parsed.reports.size(), 1u);
      }
    }
  }
}

TEST_F(RelayTest, HeaderSplitAcrossWritesStopsParsingAtTheSameRead) {
  const std::string good = Wire({F(Kind::kInvoke, 1, 1, "svc/M")});
  const std::string bad = "\x05" + std::string(12, '\x81');
  const std::vector<std::string> writes = {good + bad.substr(0, 1), bad.substr(1, 2), bad.substr(3)};
  for (size_t read = good.size(); read <= good.size() + bad.size(); ++read) {
    const Observed parsed = Exchange(writes, false, read, 1);
    ExpectSame(parsed, Exchange(writes, true, read, 1), absl::StrCat("read ", read));
  }
  EXPECT_EQ(Exchange(writes, true).reports.size(), 2u);
}

}  // namespace
}  // namespace drpc::sim
