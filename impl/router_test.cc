// Router on its own: registration errors, and what each handler shape reads and sends around the
// handler (docs/protocol.md §9.2, §9.3), with a scripted stream in place of a connection.
#include "impl/router.h"

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/rpc_stream.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

// Hands out the scripted requests, then EOF; records what the router sends.
class ScriptedStream final : public RpcStream {
 public:
  explicit ScriptedStream(std::vector<std::string> requests)
      : requests_(requests.begin(), requests.end()) {}
  uint64_t id() const override { return 1; }
  absl::Status Send(absl::string_view m) override {
    sent.push_back(std::string(m));
    return absl::OkStatus();
  }
  absl::Status SendLast(absl::string_view m) override {
    sent.push_back(absl::StrCat(m, " +CloseSend"));
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Recv() override {
    if (requests_.empty()) return EofError();
    std::string m = std::move(requests_.front());
    requests_.pop_front();
    return m;
  }
  absl::Status RecvInto(std::string* out) override {
    absl::StatusOr<std::string> m = Recv();
    if (!m.ok()) return m.status();
    *out = *std::move(m);
    return absl::OkStatus();
  }
  absl::Status CloseSend() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }
  absl::Status SendError(const absl::Status&) override { return absl::OkStatus(); }

  std::vector<std::string> sent;

 private:
  std::deque<std::string> requests_;
};

// Runs `rpc` on `router` over a stream scripted with `requests` (in a simulated Env, which a
// CallContext needs); returns what was sent and the handler's status.
struct Outcome {
  absl::Status status;
  std::vector<std::string> sent;
};
Outcome Call(const Router& router, absl::string_view rpc, std::vector<std::string> requests) {
  Outcome out;
  sim::RunResult r = sim::RunSeed(
      [&](sim::SimContext& ctx) {
        CallContext call(ctx.env());
        ScriptedStream stream(std::move(requests));
        out.status = router.HandleRpc(call, rpc, stream);
        out.sent = stream.sent;
      },
      1, sim::RunOptions{});
  EXPECT_TRUE(r.ok()) << r.message;
  return out;
}

absl::StatusOr<std::string> Upper(CallContext&, absl::string_view req) {
  return absl::StrCat("U:", req);
}

TEST(RouterTest, ANameRegisteredTwiceIsRefusedAndTheFirstHandlerStays) {
  Router router;
  ASSERT_TRUE(router.Unary("/t.T/M", Upper).ok());
  const absl::Status again = router.Bidi(
      "/t.T/M", [](CallContext&, RpcStream&) -> absl::Status { return absl::InternalError("x"); });
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_EQ(again.message(), "rpc /t.T/M is already registered");
  const Outcome o = Call(router, "/t.T/M", {"a"});
  EXPECT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.sent, std::vector<std::string>{"U:a +CloseSend"});
}

TEST(RouterTest, AnEmptyHandlerIsRefused) {
  Router router;
  const absl::Status s = router.Register("/t.T/Empty", Router::ServerStreamFn());
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  // Nothing was registered: the name is unknown.
  EXPECT_EQ(Call(router, "/t.T/Empty", {}).status.message(),
            "protocol error: unknown rpc: \"/t.T/Empty\"");
}

TEST(RouterTest, EachShapeReadsAndRepliesAsTheProtocolSays) {
  Router router;
  ASSERT_TRUE(router.Register("/t.T/Unary", Router::UnaryFn(Upper)).ok());
  ASSERT_TRUE(router
                  .ClientStream("/t.T/Client",
                                [](CallContext&, RpcStream& s) -> absl::StatusOr<std::string> {
                                  int n = 0;
                                  while (s.Recv().ok()) ++n;
                                  return absl::StrCat(n, " requests");
                                })
                  .ok());
  ASSERT_TRUE(router
                  .ServerStream("/t.T/Server",
                                [](CallContext&, absl::string_view req, RpcStream& s) {
                                  for (int i = 0; i < 2; ++i) {
                                    if (absl::Status st = s.Send(absl::StrCat(req, i)); !st.ok()) {
                                      return st;
                                    }
                                  }
                                  return absl::OkStatus();
                                })
                  .ok());
  ASSERT_TRUE(router
                  .Bidi("/t.T/Bidi",
                        [](CallContext&, RpcStream& s) -> absl::Status {
                          for (absl::StatusOr<std::string> m = s.Recv(); m.ok(); m = s.Recv()) {
                            if (absl::Status st = s.Send(*m); !st.ok()) return st;
                          }
                          return absl::OkStatus();
                        })
                  .ok());
  // Unary: one request, the reply with its CloseSend; later requests are not read.
  EXPECT_EQ(Call(router, "/t.T/Unary", {"a", "b"}).sent,
            std::vector<std::string>{"U:a +CloseSend"});
  // Client stream: the handler reads to EOF; its one reply goes with the CloseSend.
  EXPECT_EQ(Call(router, "/t.T/Client", {"a", "b", "c"}).sent,
            std::vector<std::string>{"3 requests +CloseSend"});
  // Server stream: one request read for the handler, which sends freely.
  EXPECT_EQ(Call(router, "/t.T/Server", {"x", "ignored"}).sent,
            (std::vector<std::string>{"x0", "x1"}));
  // Bidi: the handler reads and sends itself.
  EXPECT_EQ(Call(router, "/t.T/Bidi", {"p", "q"}).sent, (std::vector<std::string>{"p", "q"}));
  // Unary without a request: the EOF is the handler's result, nothing is sent.
  const Outcome none = Call(router, "/t.T/Unary", {});
  EXPECT_TRUE(IsEof(none.status)) << none.status;
  EXPECT_TRUE(none.sent.empty());
}

TEST(RouterTest, AnUnknownRpcIsGosCodeZeroAndText) {
  const Outcome o = Call(Router{}, "/t.T/Nope", {});
  EXPECT_EQ(o.status.message(), "protocol error: unknown rpc: \"/t.T/Nope\"");
  EXPECT_EQ(RemoteErrorCode(o.status), 0u);
}

}  // namespace
}  // namespace drpc
