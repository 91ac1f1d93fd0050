// Client and server against each other on the simulator: the calls of docs/protocol.md §9 in both modes.
#include "impl/conn.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

using testing::MuxOptions;
using testing::Pair;
using testing::RunPair;
using testing::UpstreamOptions;

class ConnTest : public ::testing::TestWithParam<bool> {
 protected:
  Options ModeOptions() const { return GetParam() ? MuxOptions() : UpstreamOptions(); }
  void Run(std::function<void(Pair&, sim::SimContext&)> body) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      sim::RunResult r = RunPair(ModeOptions(), ModeOptions(), body, seed);
      ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                          << r.message << "\n" << r.trace_tail;
    }
  }
};

TEST_P(ConnTest, UnaryCallEchoesTheRequest) {
  Run([](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::string> reply =
        p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", "hello drpc");
    ctx.Check(reply.ok() && *reply == "hello drpc", absl::StrCat("reply: ", reply.status().ToString()));
  });
}

TEST_P(ConnTest, SequentialUnaryCallsOnOneConnection) {
  Run([](Pair& p, sim::SimContext& ctx) {
    for (int i = 0; i < 5; ++i) {
      const std::string req = absl::StrCat("call ", i);
      absl::StatusOr<std::string> reply = p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", req);
      ctx.Check(reply.ok() && *reply == req, absl::StrCat("call ", i, ": ", reply.status().ToString()));
    }
  });
}

TEST_P(ConnTest, RemoteErrorKeepsCodeAndTextAndTheConnection) {
  Run([](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::string> reply = p.conn().Invoke(p.ctx(), "/interop.Echo/Fail", "x");
    ctx.Check(!reply.ok() && reply.status().message() == "boom" &&
                  RemoteErrorCode(reply.status()) == 42u,
              absl::StrCat("fail: ", reply.status().ToString()));
    absl::StatusOr<std::string> after =
        p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", "after-fail");
    ctx.Check(after.ok() && *after == "after-fail", "connection unusable after an error");
  });
}

TEST_P(ConnTest, UnknownRpcIsCodeZeroWithGoText) {
  Run([](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::string> reply = p.conn().Invoke(p.ctx(), "/interop.Echo/DoesNotExist", "x");
    ctx.Check(!reply.ok() &&
                  reply.status().message() ==
                      "protocol error: unknown rpc: \"/interop.Echo/DoesNotExist\"" &&
                  RemoteErrorCode(reply.status()) == 0u,
              reply.status().ToString());
    ctx.Check(p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", "x").ok(), "connection unusable");
  });
}

TEST_P(ConnTest, BidiStreamEchoesUntilCloseSend) {
  Run([](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::shared_ptr<RpcStream>> s =
        p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
    ctx.Check(s.ok(), s.status().ToString());
    for (const char* m : {"one", "two", "three"}) {
      ctx.Check((*s)->Send(m).ok(), "send");
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == m, absl::StrCat("recv: ", r.status().ToString()));
    }
    ctx.Check((*s)->CloseSend().ok(), "close send");
    absl::StatusOr<std::string> end = (*s)->Recv();
    ctx.Check(IsEof(end.status()), absl::StrCat("end: ", end.status().ToString()));
    ctx.Check((*s)->Close().ok(), "close");
  });
}

TEST_P(ConnTest, ServerStreamDeliversAllThenEof) {
  Run([](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::shared_ptr<RpcStream>> s =
        p.conn().NewStream(p.ctx(), "/interop.Echo/ServerStream");
    ctx.Check(s.ok() && (*s)->SendLast("5").ok(), "send request");
    for (int i = 0; i < 5; ++i) {
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == absl::StrCat("msg-", i), absl::StrCat("msg ", i, ": ", r.status().ToString()));
    }
    ctx.Check(IsEof((*s)->Recv().status()), "EOF expected");
    (*s)->Close().IgnoreError();
  });
}

TEST_P(ConnTest, ClientStreamGetsOneReply) {
  Run([](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::shared_ptr<RpcStream>> s =
        p.conn().NewStream(p.ctx(), "/interop.Echo/ClientStream");
    ctx.Check(s.ok(), "new stream");
    ctx.Check((*s)->Send("abc").ok() && (*s)->Send("de").ok(), "send");
    ctx.Check((*s)->SendLast("f").ok(), "send last");
    absl::StatusOr<std::string> r = (*s)->Recv();
    ctx.Check(r.ok() && *r == "6", absl::StrCat("reply: ", r.status().ToString()));
    ctx.Check(IsEof((*s)->Recv().status()), "EOF expected");
    (*s)->Close().IgnoreError();
  });
}

TEST_P(ConnTest, MetadataReachesTheHandler) {
  Run([](Pair& p, sim::SimContext& ctx) {
    CallContext call(p.env());
    call.metadata()["beta"] = "two";
    call.metadata()["alpha"] = "1";
    absl::StatusOr<std::string> reply = p.conn().Invoke(call, "/interop.Echo/Meta", "");
    ctx.Check(reply.ok() && *reply == "alpha=1;beta=two", absl::StrCat("meta: ", reply.status().ToString(), " ", reply.value_or("")));
    absl::StatusOr<std::string> none = p.conn().Invoke(p.ctx(), "/interop.Echo/Meta", "");
    ctx.Check(none.ok() && none->empty(), "metadata leaked into the next call");
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, ConnTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Mux" : "Upstream";
                         });

}  // namespace
}  // namespace drpc
