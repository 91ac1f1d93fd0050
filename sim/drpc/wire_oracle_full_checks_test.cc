// The wire oracle judges the frames of a clean call inline (a whole clean packet sent, a clean
// frame received from the relay); every other frame, and every frame under
// WireOracle::set_full_checks_for_testing, takes the full checks. The inline judgement must be
// the full checks' verdict, state and report exactly: every scenario is run over seeds both ways
// and each run's outcome, trace hash and the digest of every frame every model checked as
// received must agree, and hand-made exchanges that break a rule right after clean frames must be
// reported with the same text (which holds the stream's last frames).
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
#include "sim/drpc/test_frames.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/scenario.h"
#include "sim/simulation.h"

namespace drpc::sim {
namespace {

struct Observed {
  RunResult result;
  WireOracle::ReceivedProbe probe;
  std::vector<std::string> reports;  // hand-made exchanges only
};

class FullChecksTest : public ::testing::Test {
 protected:
  ~FullChecksTest() override {
    WireOracle::set_full_checks_for_testing(false);
    WireOracle::set_received_probe_for_testing(nullptr);
  }
};

void ExpectSame(const Observed& full, const Observed& fast, absl::string_view what) {
  EXPECT_EQ(full.result.failure, fast.result.failure) << what;
  EXPECT_EQ(full.result.message, fast.result.message) << what;
  EXPECT_EQ(full.result.trace_hash, fast.result.trace_hash) << what;
  EXPECT_EQ(full.result.counts, fast.result.counts) << what;
  EXPECT_EQ(full.probe.digest, fast.probe.digest) << what;
  EXPECT_EQ(full.probe.inline_sent_frames + full.probe.inline_received_frames, 0u) << what;
  EXPECT_EQ(full.reports, fast.reports) << what;
}

Observed RunScenario(const ScenarioSpec& spec, uint64_t seed, bool full) {
  Observed o;
  WireOracle::set_full_checks_for_testing(full);
  WireOracle::set_received_probe_for_testing(&o.probe);
  o.result = RunSeed(spec.body, seed, OptionsFor(spec));
  WireOracle::set_received_probe_for_testing(nullptr);
  WireOracle::set_full_checks_for_testing(false);
  return o;
}

// Seeds per scenario (at most its default sweep): 1 in the default suite, or
// FULL_CHECKS_TEST_SEEDS for a deeper check, e.g.
//   bazel test -c opt //sim/drpc:wire_oracle_full_checks_test --test_env=FULL_CHECKS_TEST_SEEDS=20
uint64_t SeedsMaxCount() {
  const char* v = std::getenv("FULL_CHECKS_TEST_SEEDS");
  return v == nullptr ? 1 : std::strtoull(v, nullptr, 10);
}

TEST_F(FullChecksTest, EveryScenarioGetsTheSameVerdictsEitherWay) {
  const uint64_t seeds_max = SeedsMaxCount();
  int runs = 0;
  uint64_t inline_sent = 0;
  uint64_t inline_received = 0;
  for (const ScenarioSpec* spec : ScenarioRegistry::All()) {
    const uint64_t seeds = std::min(spec->default_seeds, seeds_max);
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      const Observed full = RunScenario(*spec, seed, /*full=*/true);
      const Observed fast = RunScenario(*spec, seed, /*full=*/false);
      ExpectSame(full, fast, absl::StrCat(spec->name, " seed ", seed));
      inline_sent += fast.probe.inline_sent_frames;
      inline_received += fast.probe.inline_received_frames;
      ++runs;
    }
  }
  std::printf("%d runs both ways, %llu frames sent and %llu received judged inline\n", runs,
              static_cast<unsigned long long>(inline_sent),
              static_cast<unsigned long long>(inline_received));
  EXPECT_GT(runs, 50);
  // The inline judgements are what the runs used.
  EXPECT_GT(inline_sent, 10'000u);
  EXPECT_GT(inline_received, 10'000u);
}

using test_frames::F;
using test_frames::Wire;

// A client end (upstream, or mux) writes `writes` to a server end over a simulated connection
// with both ends tapped; the server reads all of it, then writes `replies`, which the client
// reads.
Observed Exchange(const std::vector<std::string>& writes, const std::vector<std::string>& replies,
                  bool mux, bool full) {
  Observed o;
  WireOracle::set_full_checks_for_testing(full);
  WireOracle::set_received_probe_for_testing(&o.probe);
  Options options;
  options.mux = mux;
  auto read_all = [](Transport& t, size_t n) {
    std::string buf(n, '\0');
    for (size_t got = 0; got < n;) {
      absl::StatusOr<size_t> r = t.Read(buf.data(), n - got);
      ASSERT_TRUE(r.ok());
      got += *r;
    }
  };
  o.result = RunSeed(
      [&](SimContext& ctx) {
        WireOracle oracle([&](std::string why) { o.reports.push_back(std::move(why)); });
        oracle.set_trace(&ctx);
        auto [a, b] = ctx.network().Pipe("full");
        std::unique_ptr<Transport> client =
            oracle.Tap(std::move(a), "client", WireEndConfig::For(options, /*client=*/true));
        std::unique_ptr<Transport> server =
            oracle.Tap(std::move(b), "server", WireEndConfig::For(options, /*client=*/false));
        size_t n = 0;
        for (const std::string& w : writes) {
          ASSERT_TRUE(client->Write(w).ok());
          n += w.size();
        }
        read_all(*server, n);
        n = 0;
        for (const std::string& w : replies) {
          ASSERT_TRUE(server->Write(w).ok());
          n += w.size();
        }
        read_all(*client, n);
        server->Close();
        client->Close();
      },
      1, RunOptions{});
  WireOracle::set_received_probe_for_testing(nullptr);
  WireOracle::set_full_checks_for_testing(false);
  return o;
}

TEST_F(FullChecksTest, RulesBrokenAfterCleanFramesAreReportedTheSameEitherWay) {
  const std::string call1 = Wire({F(Kind::kInvokeMetadata, 1, 1, "md"), F(Kind::kInvoke, 1, 2, "svc/M"),
                                  F(Kind::kMessage, 1, 3, "ab"), F(Kind::kCloseSend, 1, 4)});
  const std::string reply1 = Wire({F(Kind::kMessage, 1, 1, "cd"), F(Kind::kClose, 1, 2)});
  struct Case {
    std::string name;
    std::vector<std::string> writes;
    std::vector<std::string> replies;
  };
  const std::vector<Case> cases = {
      {"clean", {call1, Wire({F(Kind::kInvoke, 3, 1, "svc/M"), F(Kind::kCloseSend, 3, 2)})},
       {reply1, Wire({F(Kind::kClose, 3, 1)})}},
      {"a skipped message ID", {call1 + Wire({F(Kind::kInvoke, 3, 2, "svc/M")})}, {}},
      {"a repeated message ID", {call1, Wire({F(Kind::kInvoke, 3, 1, "svc/M"),
                                              F(Kind::kMessage, 3, 1, "x")})}, {}},
      {"a second Invoke", {call1, Wire({F(Kind::kInvoke, 3, 1, "svc/M"),
                                        F(Kind::kInvoke, 3, 2, "svc/M")})}, {}},
      {"a Message after CloseSend", {call1 + Wire({F(Kind::kMessage, 1, 5, "x")})}, {}},
      {"a frame on a stream before its Invoke", {call1 + Wire({F(Kind::kMessage, 3, 1, "x")})},
       {}},
      {"a stream ID going down", {call1, Wire({F(Kind::kInvoke, 3, 1, "svc/M"),
                                               F(Kind::kInvoke, 2, 1, "svc/M")})}, {}},
      {"a CloseSend with a body", {call1 + Wire({F(Kind::kInvoke, 3, 1, "svc/M"),
                                                 F(Kind::kCloseSend, 3, 2, "x")})}, {}},
      {"a frame after Close", {call1}, {reply1 + Wire({F(Kind::kMessage, 1, 3, "x")})}},
      {"a server frame on an unknown stream", {call1}, {reply1 + Wire({F(Kind::kClose, 5, 1)})}},
      {"a split Close", {call1}, {Wire({F(Kind::kMessage, 1, 1, "cd"),
                                        F(Kind::kClose, 1, 2, "", /*done=*/false)})}},
      {"an Invoke from the server", {call1}, {Wire({F(Kind::kInvoke, 1, 1, "svc/M")})}},
  };
  for (bool mux : {false, true}) {
    for (const Case& c : cases) {
      const std::string what = absl::StrCat(c.name, mux ? " (mux)" : " (upstream)");
      const Observed full = Exchange(c.writes, c.replies, mux, /*full=*/true);
      const Observed fast = Exchange(c.writes, c.replies, mux, /*full=*/false);
      ExpectSame(full, fast, what);
      EXPECT_GT(fast.probe.inline_sent_frames, 0u) << what;
      // Mux stream IDs need not rise.
      const bool legal = c.name == "clean" || (mux && c.name == "a stream ID going down");
      EXPECT_EQ(full.reports.empty(), legal) << what;
      if (!full.reports.empty()) {
        EXPECT_NE(full.reports[0].find("last frames of stream"), std::string::npos)
            << what << ": " << full.reports[0];
      }
    }
  }
}

}  // namespace
}  // namespace drpc::sim
