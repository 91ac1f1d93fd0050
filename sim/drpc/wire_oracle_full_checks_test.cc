// The wire oracle judges the frames of a clean call inline (a whole clean packet sent, a clean
// frame received from the relay); every other frame, and every frame under
// WireOracle::set_full_checks_for_testing, takes the full checks. The inline judgement must be
// the full checks' verdict, state and report exactly: every scenario is run over seeds both ways
// and each run's outcome, trace hash and the digest of every frame every model checked as
// received must agree, and hand-made exchanges that break a rule right after clean frames must be
// reported with the same text (which holds the stream's last frames).
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

// Seeds per scenario (at most its default sweep): 1 in the default suite, or
// FULL_CHECKS_TEST_SEEDS for a deeper check, e.g.
//   bazel test -c opt //sim/drpc:wire_oracle_full_checks_test --test_env=FULL_CHECKS_TEST_SEEDS=20
const AbSwitch kFullChecks = {
    .reference = "full",
    .candidate = "fast",
    .set = [](AbWay way) { WireOracle::set_full_checks_for_testing(way == AbWay::kReference); },
    .fast_frames =
        [](const WireOracle::ReceivedProbe& p) {
          return p.inline_sent_frames + p.inline_received_frames;
        },
    .seeds_env = "FULL_CHECKS_TEST_SEEDS",
    .seeds_default = 1,
};

TEST(FullChecksTest, EveryScenarioGetsTheSameVerdictsEitherWay) {
  uint64_t inline_sent = 0;
  uint64_t inline_received = 0;
  const int runs = ExpectEveryScenarioSameBothWays(
      kFullChecks, [&](const Observed&, const Observed& fast) {
        inline_sent += fast.probe.inline_sent_frames;
        inline_received += fast.probe.inline_received_frames;
      });
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
  Options options;
  options.mux = mux;
  return ObserveExchange(kFullChecks, full ? AbWay::kReference : AbWay::kCandidate, options,
                         [&](Transport& client, Transport& server) {
                           size_t n = 0;
                           for (const std::string& w : writes) {
                             ASSERT_TRUE(client.Write(w).ok());
                             n += w.size();
                           }
                           ReadExactly(server, n, n);
                           n = 0;
                           for (const std::string& w : replies) {
                             ASSERT_TRUE(server.Write(w).ok());
                             n += w.size();
                           }
                           ReadExactly(client, n, n);
                         });
}

TEST(FullChecksTest, RulesBrokenAfterCleanFramesAreReportedTheSameEitherWay) {
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
      ExpectSame(kFullChecks, full, fast, what);
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
