#include "impl/encoding.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

// Integers as decimal text; negative numbers cannot be marshalled.
class DecimalEncoding final : public Encoding<int> {
 public:
  absl::Status Marshal(const int& v, std::string& out) const override {
    if (v < 0) return absl::InvalidArgumentError("negative");
    out = absl::StrCat(v);
    return absl::OkStatus();
  }
  absl::Status Unmarshal(absl::string_view b, int& v) const override {
    return absl::SimpleAtoi(b, &v) ? absl::OkStatus() : absl::InvalidArgumentError("not a number");
  }
};

TEST(EncodingTest, TypedUnaryAndStreamCallsRoundTrip) {
  sim::RunResult r = testing::RunPair(Options{}, Options{}, [](testing::Pair& p, sim::SimContext& ctx) {
    DecimalEncoding dec;
    absl::StatusOr<int> echoed =
        InvokeTyped(p.conn(), p.ctx(), "/interop.Echo/Unary", dec, 42, dec);
    ctx.Check(echoed.ok() && *echoed == 42, echoed.status().ToString());
    absl::StatusOr<std::shared_ptr<RpcStream>> s =
        p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
    TypedStream<int, int> typed(*s, dec, dec);
    for (int i = 0; i < 3; ++i) {
      ctx.Check(typed.Send(i).ok(), "send");
      absl::StatusOr<int> back = typed.Recv();
      ctx.Check(back.ok() && *back == i, back.status().ToString());
    }
    typed.raw().Close().IgnoreError();
  });
  EXPECT_TRUE(r.ok()) << r.message;
}

// docs/protocol.md §9.1: Go allocates a stream before encoding, so an encode failure sends a bare Close that
// wedges an upstream server. We marshal first: nothing reaches the wire.
TEST(EncodingTest, MarshalFailureSendsNothing) {
  sim::RunResult r = testing::RunClient(Options{}, [](testing::ClientSide& c) {
    DecimalEncoding dec;
    CallContext ctx(c.sim.env());
    absl::StatusOr<int> reply = InvokeTyped(c.conn, ctx, "/interop.Echo/Unary", dec, -1, dec);
    c.sim.Check(absl::IsInvalidArgument(reply.status()), reply.status().ToString());
    c.sim.Check(c.server.Silent(Duration::Millis(10)) && c.writes->empty(), "bytes were sent");
  });
  EXPECT_TRUE(r.ok()) << r.message;
}

}  // namespace
}  // namespace drpc
