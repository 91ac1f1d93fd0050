// The wire oracle must see what it claims to see: each rule is broken once on purpose (hand-made
// frames written through a tapped transport) and must be reported, naming the rule; a legal
// exchange must pass without a report.
#include "sim/drpc/wire_oracle.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "impl/options.h"
#include "proto/error_codec.h"
#include "proto/frame.h"
#include "proto/metadata.h"
#include "proto/window.h"
#include "sim/drpc/test_frames.h"
#include "sim/simulation.h"

namespace drpc::sim {
namespace {

using test_frames::F;
using test_frames::Wire;

// A transport that is not the simulated network's: forwards to one that is.
class Forwarding final : public Transport {
 public:
  explicit Forwarding(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override { return inner_->Read(buf, size); }
  absl::Status Write(absl::string_view data) override { return inner_->Write(data); }
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Transport> inner_;
};

// Writes `sent` from the tapped end (configured by `end`) and lets the other end write `received`
// into it; returns the violation reports. `foreign`: the tapped end is a transport of another
// kind than the network's (the oracle wraps it instead of tapping the endpoint itself).
std::vector<std::string> Check(const WireEndConfig& end, const std::string& sent,
                               const std::string& received = "", bool foreign = false) {
  std::vector<std::string> reports;
  const RunResult r = RunSeed(
      [&](SimContext& ctx) {
        WireOracle oracle([&](std::string why) { reports.push_back(std::move(why)); });
        auto [a, b] = ctx.network().Pipe("oracle");
        std::unique_ptr<Transport> inner = std::move(a);
        if (foreign) inner = std::make_unique<Forwarding>(std::move(inner));
        std::unique_ptr<Transport> tapped = oracle.Tap(std::move(inner), "end", end);
        if (!received.empty()) {
          ASSERT_TRUE(b->Write(received).ok());
          std::string buf(received.size(), '\0');
          size_t got = 0;
          while (got < received.size()) {
            absl::StatusOr<size_t> n = tapped->Read(buf.data() + got, buf.size() - got);
            ASSERT_TRUE(n.ok());
            got += *n;
          }
        }
        if (!sent.empty()) {
          ASSERT_TRUE(tapped->Write(sent).ok());
        }
        tapped->Close();
        b->Close();
      },
      1, RunOptions{});
  EXPECT_TRUE(r.ok()) << r.message;
  return reports;
}

const WireEndConfig kUpstreamClient{.client = true, .mux = false, .split_bytes = 16};
const WireEndConfig kMuxClient{.client = true, .mux = true, .split_bytes = 16};
const WireEndConfig kMuxServer{.client = false, .mux = true, .split_bytes = 16};

void ExpectOneReport(const std::vector<std::string>& reports, absl::string_view rule) {
  ASSERT_EQ(reports.size(), 1u) << "expected a report about: " << rule;
  EXPECT_TRUE(absl::StrContains(reports[0], rule)) << reports[0];
}

TEST(WireOracleTest, ALegalUnaryExchangePasses) {
  EXPECT_TRUE(Check(kUpstreamClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kMessage, 1, 2, "hi"),
                                           F(Kind::kCloseSend, 1, 3), F(Kind::kClose, 1, 4),
                                           F(Kind::kInvoke, 2, 1, "/a/B")}),
                    Wire({F(Kind::kMessage, 1, 1, "yo"), F(Kind::kCloseSend, 1, 2)}))
                  .empty());
}

TEST(WireOracleTest, AnythingBeforeTheInvokeIsReported) {
  ExpectOneReport(Check(kUpstreamClient, Wire({F(Kind::kMessage, 1, 1, "x")})),
                  "nothing may precede the stream's Invoke");
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kCancel, 3, 3)})),
                  "nothing may precede the stream's Invoke");
}

TEST(WireOracleTest, ASecondInvokeAndMetadataAfterTheInvokeAreReported) {
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kInvoke, 1, 2, "/a/B")})),
                  "a second Invoke");
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"),
                                          F(Kind::kInvokeMetadata, 1, 2, EncodeMetadata({{"k", "v"}}))})),
                  "metadata after the Invoke");
}

TEST(WireOracleTest, AMissingOrStrayControlBitIsReported) {
  Frame cancel = F(Kind::kCancel, 1, 2);
  cancel.control = false;
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), cancel})),
                  "must carry the control bit");
  Frame message = F(Kind::kMessage, 1, 2, "x");
  message.control = true;
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), message})),
                  "must not carry the control bit");
}

// Kinds and shapes that the inline shape check must hand to the full one.
TEST(WireOracleTest, UnknownKindsAndSplitOrNonEmptyClosesAreReportedBothWays) {
  for (int kind : {0, 9, 31, 63}) {
    const std::string bytes = Wire({F(static_cast<Kind>(kind), 1, 1, "x")});
    ExpectOneReport(Check(kMuxClient, bytes), "unknown kind");
    ExpectOneReport(Check(kMuxClient, "", bytes), "unknown kind");
  }
  const std::string invoke = Wire({F(Kind::kInvoke, 1, 1, "/a/B")});
  ExpectOneReport(Check(kMuxClient, invoke + Wire({F(Kind::kCloseSend, 1, 2, "", false)})),
                  "never split");
  ExpectOneReport(Check(kMuxServer, Wire({F(Kind::kClose, 1, 1, "x")}), invoke),
                  "must have an empty body");
}

TEST(WireOracleTest, FramesOverTheSplitSizeAndSplitTerminalsAreReported) {
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, std::string(17, 'x'))})),
                  "exceeds the split size 16");
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kError, 1, 2, "12345678", false)})),
                  "never split");
}

TEST(WireOracleTest, MessageIdsThatSkipOrRepeatAreReported) {
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kMessage, 1, 3, "x")})),
                  "message ID after 1");
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kMessage, 1, 1, "x")})),
                  "message ID after 1");
}

TEST(WireOracleTest, UpstreamIdsGoingBackwardsAreReported) {
  ExpectOneReport(Check(kUpstreamClient, Wire({F(Kind::kInvoke, 2, 1, "/a/B"), F(Kind::kInvoke, 1, 1, "/a/B")})),
                  "upstream IDs never decrease");
}

TEST(WireOracleTest, AbandoningAPartlySentPacketIsReported) {
  ExpectOneReport(Check(kUpstreamClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kMessage, 1, 2, "ab", false),
                                               F(Kind::kCloseSend, 1, 3)})),
                  "abandons the partly sent packet");
}

TEST(WireOracleTest, AnythingAfterATerminalIsReported) {
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kClose, 1, 2),
                                          F(Kind::kMessage, 1, 3, "x")})),
                  "the stream already ended");
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kCloseSend, 1, 2),
                                          F(Kind::kMessage, 1, 3, "x")})),
                  "Message after CloseSend");
}

TEST(WireOracleTest, AServerThatInvokesOrAnswersAnUnknownStreamIsReported) {
  ExpectOneReport(Check(kMuxServer, Wire({F(Kind::kInvoke, 1, 1, "/a/B")})), "servers never invoke");
  ExpectOneReport(Check(kMuxServer, Wire({F(Kind::kMessage, 7, 1, "x")})),
                  "no frame of this stream was received");
}

const WireEndConfig kMuxFlowServer{.client = false,
                                   .mux = true,
                                   .split_bytes = 16,
                                   .flow_control = true,
                                   .stream_window_bytes = 5,
                                   .grant_threshold_bytes = 2};

TEST(WireOracleTest, AMessageStartedBeyondTheCreditIsReportedAnOverdraftIsNot) {
  const std::string invoke = Wire({F(Kind::kInvoke, 1, 1, "/a/B")});
  // 5 bytes of credit: a message may start with 5, and its later frames may overdraw.
  EXPECT_TRUE(Check(kMuxFlowServer, Wire({F(Kind::kMessage, 1, 1, "12345")}), invoke).empty());
  EXPECT_TRUE(Check(kMuxFlowServer,
                    Wire({F(Kind::kMessage, 1, 1, "1234", false), F(Kind::kMessage, 1, 1, "56789")}),
                    invoke)
                  .empty());
  // The next message finds -4 bytes of credit.
  ExpectOneReport(Check(kMuxFlowServer,
                        Wire({F(Kind::kMessage, 1, 1, "1234", false),
                              F(Kind::kMessage, 1, 1, "56789"), F(Kind::kMessage, 1, 2, "")}),
                        invoke),
                  "beyond the flow-control credit -4");
  ExpectOneReport(Check(kMuxFlowServer, Wire({F(Kind::kMessage, 1, 1, "123456")}), invoke),
                  "a message starts with 6 bytes beyond the flow-control credit 5");
  // A WindowUpdate read from the peer adds credit.
  const std::string grant = invoke + Wire({F(Kind::kWindowUpdate, 1, 0, EncodeWindowUpdate(10))});
  EXPECT_TRUE(Check(kMuxFlowServer, Wire({F(Kind::kMessage, 1, 1, "123456")}), grant).empty());
}

TEST(WireOracleTest, GrantsBelowTheThresholdOrBeyondWhatArrivedAreReported) {
  const std::string received = Wire({F(Kind::kInvoke, 1, 1, "/a/B"), F(Kind::kMessage, 1, 2, "abc")});
  auto grant = [](uint64_t delta) {
    return Wire({F(Kind::kWindowUpdate, 1, 0, EncodeWindowUpdate(delta))});
  };
  EXPECT_TRUE(Check(kMuxFlowServer, grant(3), received).empty());
  ExpectOneReport(Check(kMuxFlowServer, grant(1), received), "a grant below the threshold 2");
  ExpectOneReport(Check(kMuxFlowServer, grant(4), received),
                  "grants 4 bytes in all, more than the 3 Message bytes received");
  ExpectOneReport(Check(kMuxServer, grant(3), received), "WindowUpdate without flow control");
}

TEST(WireOracleTest, ErrorBodiesAreCheckedInTheEndsFormat) {
  const std::string invoke = Wire({F(Kind::kInvoke, 1, 1, "/a/B")});
  WireEndConfig fork = kMuxServer;
  fork.error_format = ErrorFormat::kGrpcStatus;
  Frame abortive = F(Kind::kError, 1, 1, EncodeErrorBody(ErrorFormat::kGrpcStatus, {8, "too big"}));
  abortive.control = true;
  EXPECT_TRUE(Check(fork, Wire({abortive}), invoke).empty());
  ExpectOneReport(Check(fork, Wire({F(Kind::kError, 1, 1, EncodeError(2, "x"))}), invoke),
                  "unsupported error version: 0");
}

TEST(WireOracleTest, ReceivedFramesAreCheckedToo) {
  ExpectOneReport(Check(kMuxClient, "", Wire({F(Kind::kInvoke, 1, 1, "/a/B")})), "from the server");
  Frame bad = F(Kind::kClose, 1, 1, "body");
  ExpectOneReport(Check(kMuxClient, "", Wire({bad})), "must have an empty body");
}

TEST(WireOracleTest, ATransportOfAnotherKindIsWrappedAndCheckedBothWays) {
  EXPECT_TRUE(Check(kMuxClient, Wire({F(Kind::kInvoke, 1, 1, "/a/B")}), "", /*foreign=*/true).empty());
  ExpectOneReport(Check(kMuxClient, Wire({F(Kind::kMessage, 1, 1, "x")}), "", /*foreign=*/true),
                  "nothing may precede the stream's Invoke");
  ExpectOneReport(Check(kMuxClient, "", Wire({F(Kind::kClose, 1, 1, "body")}), /*foreign=*/true),
                  "must have an empty body");
}

TEST(WireOracleTest, BytesThatDoNotParseAreReported) {
  ExpectOneReport(Check(kMuxClient, std::string("\x05\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11)),
                  "do not parse");
}

}  // namespace
}  // namespace drpc::sim
