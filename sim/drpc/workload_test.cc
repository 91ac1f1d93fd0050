// The workload's oracles must fire: each sabotage of the server (sim/drpc/workload.h) is caught
// within a few seeds, with the oracle that names it; the plan and payload codecs round-trip and
// tell a message of another call from its own.
#include "sim/drpc/workload.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/drpc/workload_plan.h"
#include "sim/simulation.h"

namespace drpc::sim {
namespace {

WorkloadConfig Plain(WorkloadMode mode, WorkloadConfig::Sabotage sabotage) {
  WorkloadConfig w;
  w.mode = mode;
  w.callers_per_connection = 2;
  w.rpcs_per_caller = 4;
  w.handler_error_per_mille = 400;
  w.messages_min = 1;
  w.sabotage = sabotage;
  if (sabotage == WorkloadConfig::Sabotage::kIgnoreCancels) w.cancel_per_mille = 500;
  return w;
}

// The first failing run among `seeds` seeds, or an OK result.
RunResult FirstFailure(const WorkloadConfig& w, int seeds) {
  RunResult last;
  for (int seed = 1; seed <= seeds; ++seed) {
    last = RunSeed([&](SimContext& ctx) { RunWorkload(ctx, w); }, static_cast<uint64_t>(seed),
                   RunOptions{});
    if (!last.ok()) return last;
  }
  return last;
}

TEST(WorkloadTest, AnHonestServerPassesInBothModes) {
  for (WorkloadMode mode : {WorkloadMode::kUpstream, WorkloadMode::kMux}) {
    const RunResult r = FirstFailure(Plain(mode, WorkloadConfig::Sabotage::kNone), 20);
    EXPECT_TRUE(r.ok()) << WorkloadModeName(mode) << ": " << r.message;
  }
}

// A handler that never reads: its caller keeps sending into a queue nobody empties, and every
// such call ends by its own cancel or deadline, or (a short server stall timeout, no flow control)
// by the stall the server reports; never with success, and every handler returns.
TEST(WorkloadTest, HandlersThatNeverReadEndByTheirContextOrAStall) {
  for (WorkloadMode mode : {WorkloadMode::kUpstream, WorkloadMode::kMux}) {
    WorkloadConfig w = Plain(mode, WorkloadConfig::Sabotage::kNone);
    w.handler_error_per_mille = 0;
    w.unary_weight = w.server_stream_weight = 0;
    w.messages_min = 4;
    w.messages_max = 8;
    w.never_reads_per_mille = 1000;
    w.swarm = false;
    w.adjust = [](Options& client, Options& server) {
      client.flow.enabled = server.flow.enabled = false;
      server.recv_queue_max_count = 1;
      server.recv_stall_timeout = Duration::Millis(1);
    };
    uint64_t stalled = 0;
    bool never_read = false;
    for (int seed = 1; seed <= 8; ++seed) {
      WorkloadReport report;
      const RunResult r = RunSeed([&](SimContext& ctx) { report = RunWorkload(ctx, w); },
                                  static_cast<uint64_t>(seed), RunOptions{});
      ASSERT_TRUE(r.ok()) << WorkloadModeName(mode) << " seed " << seed << ": " << r.message;
      EXPECT_EQ(report.ok, 2u) << "only the two probe calls after healing succeed";
      stalled += report.stalled;
      never_read = never_read || r.reached.count("workload.handler_never_read") > 0;
    }
    EXPECT_GT(stalled, 0u) << WorkloadModeName(mode);
    EXPECT_TRUE(never_read) << WorkloadModeName(mode);
  }
}

struct Case {
  WorkloadConfig::Sabotage sabotage;
  const char* caught_by;
};

TEST(WorkloadTest, EverySabotageIsCaughtByItsOracle) {
  const Case cases[] = {
      {WorkloadConfig::Sabotage::kCorruptUnaryReply, "wrong unary reply"},
      {WorkloadConfig::Sabotage::kIgnorePlannedError,
       "succeeded although its handler was planned to fail"},
      {WorkloadConfig::Sabotage::kWrongErrorCode, "that its handler did not return"},
      {WorkloadConfig::Sabotage::kDropLastResponse, "server stream ended cleanly after"},
      {WorkloadConfig::Sabotage::kIgnoreCancels, "instead of Canceled"},
      {WorkloadConfig::Sabotage::kRewriteHandlerErrors, "is not what its handler returned"},
  };
  for (const Case& c : cases) {
    for (WorkloadMode mode : {WorkloadMode::kUpstream, WorkloadMode::kMux}) {
      const RunResult r = FirstFailure(Plain(mode, c.sabotage), 40);
      EXPECT_EQ(r.failure, FailureClass::kCorrectness)
          << c.caught_by << " (" << WorkloadModeName(mode) << ")";
      EXPECT_TRUE(absl::StrContains(r.message, c.caught_by)) << r.message;
    }
  }
}

TEST(WorkloadPlanTest, PlansRoundTripAndRejectGarbage) {
  const RpcPlan p{.id = 17, .type = RpcType::kBidi, .requests = 3, .responses = 1,
                  .request_size_max = 300, .response_size_max = 70000, .ending = Ending::kError,
                  .error_after = 2, .error_code = 42, .handler_think_us = 2000};
  absl::StatusOr<RpcPlan> back = DecodePlan(EncodePlan(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EncodePlan(*back), EncodePlan(p));
  EXPECT_FALSE(DecodePlan("id=17;t=9").ok());
  EXPECT_FALSE(DecodePlan("").ok());
  EXPECT_FALSE(DecodePlan(EncodePlan(p) + ";extra=1").ok());
}

// The plan's text is on the wire (the call's metadata): its bytes must never change.
TEST(WorkloadPlanTest, PlanTextKeepsItsWireFormatAtItsWidest) {
  const RpcPlan widest{.id = UINT64_MAX, .type = RpcType::kBidi, .requests = UINT32_MAX,
                       .responses = UINT32_MAX, .request_size_max = UINT32_MAX,
                       .response_size_max = UINT32_MAX, .ending = Ending::kNeverReads,
                       .error_after = UINT32_MAX, .error_code = UINT64_MAX,
                       .handler_think_us = UINT32_MAX};
  const std::string text = EncodePlan(widest);
  EXPECT_EQ(text, "id=18446744073709551615;t=3;q=4294967295;r=4294967295;qs=4294967295;"
                  "rs=4294967295;end=3;after=4294967295;code=18446744073709551615;"
                  "think=4294967295");
  EXPECT_LE(text.size(), kPlanTextMaxBytes);
  char buf[kPlanTextMaxBytes];
  EXPECT_EQ(EncodePlanInto(widest, buf), text);
  EXPECT_EQ(EncodePlan(RpcPlan{.id = 5}),
            "id=5;t=0;q=1;r=1;qs=0;rs=0;end=0;after=0;code=0;think=0");
}

// The encoder that keeps the text after the ID gives EncodePlanInto's text whichever field
// changes from one plan to the next, and for IDs and rests of every width.
TEST(WorkloadPlanTest, PlanTextEncoderGivesEncodePlanIntosText) {
  const RpcPlan widest{.id = UINT64_MAX, .type = RpcType::kBidi, .requests = UINT32_MAX,
                       .responses = UINT32_MAX, .request_size_max = UINT32_MAX,
                       .response_size_max = UINT32_MAX, .ending = Ending::kNeverReads,
                       .error_after = UINT32_MAX, .error_code = UINT64_MAX,
                       .handler_think_us = UINT32_MAX};
  std::vector<RpcPlan> plans = {RpcPlan{.id = 1}, RpcPlan{.id = 2}, RpcPlan{.id = 123456},
                                widest, widest, RpcPlan{.id = 7}};
  const std::vector<void (*)(RpcPlan&)> changes = {
      [](RpcPlan& p) { p.type = RpcType::kServerStream; },
      [](RpcPlan& p) { p.requests = 4; },
      [](RpcPlan& p) { p.responses = 0; },
      [](RpcPlan& p) { p.request_size_max = 64; },
      [](RpcPlan& p) { p.response_size_max = 4096; },
      [](RpcPlan& p) { p.ending = Ending::kError; },
      [](RpcPlan& p) { p.error_after = 2; },
      [](RpcPlan& p) { p.error_code = 42; },
      [](RpcPlan& p) { p.handler_think_us = 2000; },
  };
  for (auto change : changes) {
    RpcPlan p{.id = 99};
    change(p);
    plans.push_back(p);
    p.id = 100;
    plans.push_back(p);
    plans.push_back(RpcPlan{.id = 101});
  }
  PlanTextEncoder encoder;
  for (const RpcPlan& p : plans) {
    char buf[kPlanTextMaxBytes];
    char expected[kPlanTextMaxBytes];
    EXPECT_EQ(encoder.Encode(p, buf), EncodePlanInto(p, expected)) << EncodePlan(p);
  }
}

TEST(WorkloadPlanTest, NumbersOfEveryWidthAreWrittenInDecimal) {
  std::vector<uint64_t> values = {UINT64_MAX, UINT64_MAX - 1};
  for (uint64_t p = 1; p <= 10'000'000'000'000'000'000u; p *= 10) {
    for (uint64_t v : {p - 1, p, p + 1, 2 * p - 1, 9 * p, 9 * p + 9}) values.push_back(v);
  }
  for (uint64_t v : values) {
    const RpcPlan plan{.id = v, .error_code = v, .handler_think_us = static_cast<uint32_t>(v)};
    EXPECT_EQ(EncodePlan(plan),
              absl::StrCat("id=", v, ";t=0;q=1;r=1;qs=0;rs=0;end=0;after=0;code=", v,
                           ";think=", static_cast<uint32_t>(v)));
  }
}

TEST(WorkloadPlanTest, PlanTextIdReadsOnlyALeadingId) {
  EXPECT_EQ(PlanTextId(EncodePlan(RpcPlan{.id = 17})), 17u);
  EXPECT_EQ(PlanTextId("id=18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(PlanTextId("id=18446744073709551616"), 0u);  // one over UINT64_MAX
  EXPECT_EQ(PlanTextId("id=99999999999999999999;t=0"), 0u);
  EXPECT_EQ(PlanTextId("id=+5"), 0u);
  EXPECT_EQ(PlanTextId("id=-5"), 0u);
  EXPECT_EQ(PlanTextId("id= 5"), 0u);
  EXPECT_EQ(PlanTextId("t=0;id=17"), 0u);
  EXPECT_EQ(PlanTextId("id=x;t=0"), 0u);
  EXPECT_EQ(PlanTextId("id=;t=0"), 0u);
  EXPECT_EQ(PlanTextId(""), 0u);
}

// Payloads are on the wire too: a 16-byte header (when it fits), then little-endian words of a
// Weyl sequence (a tail of fewer than eight bytes takes the low bytes of its word).
TEST(WorkloadPlanTest, PayloadBytesKeepTheirFormat) {
  // The header: 7 ^ 0x6a09e667f3bcc908, then (2 | 'q' << 32 | 21 << 40) ^ 0xbb67ae8584caa73b,
  // little-endian; then the sequence's first 5 bytes.
  EXPECT_EQ(absl::BytesToHexString(MakePayload(7, PayloadDirection::kRequest, 2, 21)),
            "0fc9bcf367e6096a39a7ca84f4bb67bbedac0a156e");
  // Too small for a header: the sequence alone.
  EXPECT_EQ(absl::BytesToHexString(MakePayload(3, PayloadDirection::kResponse, 0, 5)),
            "d38826f312");
}

TEST(WorkloadPlanTest, PayloadBufferMakesTheSameBytesInlineAndOnTheHeap) {
  PayloadBuffer buf;
  for (size_t size : {size_t{0}, size_t{3}, size_t{64}, PayloadBuffer::kInlineBytes,
                      PayloadBuffer::kInlineBytes + 1, size_t{70000}, size_t{100}}) {
    EXPECT_EQ(buf.Make(9, PayloadDirection::kResponse, 4, size),
              MakePayload(9, PayloadDirection::kResponse, 4, size)) << size;
  }
}

TEST(WorkloadPlanTest, EveryByteOfAPayloadIsChecked) {
  // Sizes around the header and the word boundaries: a flipped byte anywhere, the tail
  // included, is caught.
  for (size_t size = 0; size <= 40; ++size) {
    const std::string m = MakePayload(7, PayloadDirection::kRequest, 2, size);
    ASSERT_EQ(CheckPayload(m, 7, PayloadDirection::kRequest, 2, size), "") << size;
    for (size_t at = 0; at < size; ++at) {
      std::string corrupt = m;
      corrupt[at] ^= 0x40;
      EXPECT_NE(CheckPayload(corrupt, 7, PayloadDirection::kRequest, 2, size), "")
          << size << " " << at;
    }
  }
}
TEST(WorkloadPlanTest, EachMixUpOfMessagesIsCaught) {
  // What a broken transport or manager could do to the messages of two calls: deliver one to the
  // other's stream, deliver one twice, swap two, cut one short.
  const std::string m0 = MakePayload(7, PayloadDirection::kRequest, 0, 64);
  const std::string m1 = MakePayload(7, PayloadDirection::kRequest, 1, 64);
  const std::string other = MakePayload(8, PayloadDirection::kRequest, 1, 64);
  EXPECT_NE(CheckPayload(other, 7, PayloadDirection::kRequest, 1, 64), "");  // wrong stream
  EXPECT_NE(CheckPayload(m0, 7, PayloadDirection::kRequest, 1, 64), "");     // duplicate of 0
  EXPECT_NE(CheckPayload(m1, 7, PayloadDirection::kRequest, 0, 64), "");     // reordered
  EXPECT_NE(CheckPayload(m1.substr(0, 63), 7, PayloadDirection::kRequest, 1, 64), "");  // truncated
  EXPECT_NE(CheckPayload(m1 + "x", 7, PayloadDirection::kRequest, 1, 64), "");          // run on
  EXPECT_NE(CheckPayload(MakePayload(7, PayloadDirection::kResponse, 1, 64), 7,
                         PayloadDirection::kRequest, 1, 64), "");  // the other direction's
}
TEST(WorkloadPlanTest, PayloadsTellTheirCallDirectionAndIndexApart) {
  const std::string m = MakePayload(7, PayloadDirection::kRequest, 2, 100);
  EXPECT_EQ(m.size(), 100u);
  EXPECT_EQ(CheckPayload(m, 7, PayloadDirection::kRequest, 2, 100), "");
  EXPECT_TRUE(
      absl::StrContains(CheckPayload(m, 8, PayloadDirection::kRequest, 2, 100), "tagged <7.q.2>"));
  EXPECT_NE(CheckPayload(m, 7, PayloadDirection::kResponse, 2, 100), "");
  EXPECT_NE(CheckPayload(m, 7, PayloadDirection::kRequest, 3, 100), "");
  std::string corrupt = m;
  corrupt[60] ^= 1;
  EXPECT_TRUE(absl::StrContains(CheckPayload(corrupt, 7, PayloadDirection::kRequest, 2, 100),
                                "first difference at byte 60"));
  // Messages too small for a header still differ by content.
  EXPECT_NE(MakePayload(7, PayloadDirection::kRequest, 0, 4),
            MakePayload(8, PayloadDirection::kRequest, 0, 4));
}

}  // namespace
}  // namespace drpc::sim
