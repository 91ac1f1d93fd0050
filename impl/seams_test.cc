// The seams later layers plug into: server middleware wraps a Handler, client wrappers implement
// ClientConn around a Conn and RpcStream around its streams, and the simulated network is a
// Dialer. Each test runs in both modes on the simulator.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/client_conn.h"
#include "impl/encoding.h"
#include "impl/errors.h"
#include "impl/handler.h"
#include "impl/router.h"
#include "impl/testing/echo_service.h"
#include "sim/simulation.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

using testing::MuxOptions;
using testing::Pair;
using testing::RunPair;
using testing::UpstreamOptions;

// Server middleware: refuses calls without the right token, records what it served.
class TokenCheck final : public Handler {
 public:
  explicit TokenCheck(const Handler& next) : next_(&next) {}
  absl::Status HandleRpc(CallContext& ctx, absl::string_view rpc,
                         RpcStream& stream) const override {
    auto it = ctx.incoming_metadata().find("authorization");
    if (it == ctx.incoming_metadata().end() || it->second != "secret") {
      seen_->push_back(absl::StrCat("refused ", rpc));
      return WithRemoteErrorCode(absl::PermissionDeniedError("missing token"), 7);
    }
    absl::Status status = next_->HandleRpc(ctx, rpc, stream);
    seen_->push_back(absl::StrCat("served ", rpc, " ", status.ok() ? "ok" : status.message()));
    return status;
  }
  std::vector<std::string>& seen() const { return *seen_; }

 private:
  const Handler* next_;
  std::unique_ptr<std::vector<std::string>> seen_ = std::make_unique<std::vector<std::string>>();
};

// A stream wrapper counting the messages that pass through it.
class CountingStream final : public RpcStream {
 public:
  CountingStream(std::shared_ptr<RpcStream> inner, int* sent, int* received)
      : inner_(std::move(inner)), sent_(sent), received_(received) {}
  uint64_t id() const override { return inner_->id(); }
  absl::Status Send(absl::string_view m) override { return Count(sent_, inner_->Send(m)); }
  absl::Status SendLast(absl::string_view m) override { return Count(sent_, inner_->SendLast(m)); }
  absl::StatusOr<std::string> Recv() override {
    absl::StatusOr<std::string> m = inner_->Recv();
    if (m.ok()) ++*received_;
    return m;
  }
  absl::Status RecvInto(std::string* out) override { return Count(received_, inner_->RecvInto(out)); }
  absl::Status CloseSend() override { return inner_->CloseSend(); }
  absl::Status Close() override { return inner_->Close(); }
  absl::Status SendError(const absl::Status& e) override { return inner_->SendError(e); }

 private:
  static absl::Status Count(int* counter, absl::Status s) {
    if (s.ok()) ++*counter;
    return s;
  }
  std::shared_ptr<RpcStream> inner_;
  int* sent_;
  int* received_;
};

// Client-side decoration: adds a token to every call and counts streamed messages.
class TokenClient final : public ClientConn {
 public:
  explicit TokenClient(ClientConn& inner) : inner_(&inner) {}
  absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                     absl::string_view request) override {
    ctx.metadata()["authorization"] = "secret";
    ++calls;
    return inner_->Invoke(ctx, rpc, request);
  }
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                       absl::string_view rpc) override {
    ctx.metadata()["authorization"] = "secret";
    ++calls;
    absl::StatusOr<std::shared_ptr<RpcStream>> s = inner_->NewStream(ctx, rpc);
    if (!s.ok()) return s.status();
    return std::shared_ptr<RpcStream>(std::make_shared<CountingStream>(*s, &sent, &received));
  }
  void Close() override { inner_->Close(); }
  Signal& closed() override { return inner_->closed(); }

  int calls = 0, sent = 0, received = 0;

 private:
  ClientConn* inner_;
};

class DecimalEncoding final : public Encoding<int> {
 public:
  absl::Status Marshal(const int& v, std::string& out) const override {
    out = absl::StrCat(v);
    return absl::OkStatus();
  }
  absl::Status Unmarshal(absl::string_view b, int& v) const override {
    return absl::SimpleAtoi(b, &v) ? absl::OkStatus() : absl::InvalidArgumentError("not a number");
  }
};

class SeamsTest : public ::testing::TestWithParam<bool> {
 protected:
  Options ModeOptions() const { return GetParam() ? MuxOptions() : UpstreamOptions(); }
  void Run(std::function<void(Pair&, sim::SimContext&)> body, const Handler* handler = nullptr) {
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      sim::RunResult r = RunPair(ModeOptions(), ModeOptions(), body, seed, handler);
      ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                          << r.message << "\n" << r.trace_tail;
    }
  }
};

TEST_P(SeamsTest, ServerMiddlewareShortCircuitsWithItsOwnStatus) {
  const Router echo = testing::EchoRouter();
  const TokenCheck check(echo);
  Run(
      [&](Pair& p, sim::SimContext& ctx) {
        check.seen().clear();
        absl::StatusOr<std::string> refused = p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", "x");
        ctx.Check(!refused.ok() && refused.status().message() == "missing token" &&
                      RemoteErrorCode(refused.status()) == 7u,
                  absl::StrCat("refused call: ", refused.status().ToString()));
        p.ctx().metadata()["authorization"] = "secret";
        absl::StatusOr<std::string> served = p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", "y");
        ctx.Check(served.ok() && *served == "y", served.status().ToString());
        absl::StatusOr<std::string> failed = p.conn().Invoke(p.ctx(), "/interop.Echo/Fail", "z");
        ctx.Check(RemoteErrorCode(failed.status()) == 42u, failed.status().ToString());
        const std::vector<std::string> want = {"refused /interop.Echo/Unary",
                                               "served /interop.Echo/Unary ok",
                                               "served /interop.Echo/Fail boom"};
        ctx.Check(check.seen() == want, "middleware saw every call and its outcome, in order");
      },
      &check);
}

TEST_P(SeamsTest, ClientConnWrapperDecoratesCallsAndStreams) {
  const Router echo = testing::EchoRouter();
  const TokenCheck check(echo);
  Run(
      [](Pair& p, sim::SimContext& ctx) {
        TokenClient client(p.conn());
        ClientConn& cc = client;
        DecimalEncoding dec;
        absl::StatusOr<int> typed = InvokeTyped(cc, p.ctx(), "/interop.Echo/Unary", dec, 41, dec);
        ctx.Check(typed.ok() && *typed == 41, typed.status().ToString());

        absl::StatusOr<std::shared_ptr<RpcStream>> s = cc.NewStream(p.ctx(), "/interop.Echo/Bidi");
        ctx.Check(s.ok(), s.status().ToString());
        TypedStream<int, int> bidi(*s, dec, dec);
        for (int i = 0; i < 3; ++i) {
          ctx.Check(bidi.Send(i).ok(), "send");
          absl::StatusOr<int> back = bidi.Recv();
          ctx.Check(back.ok() && *back == i, back.status().ToString());
        }
        ctx.Check((*s)->CloseSend().ok(), "close send");
        ctx.Check(IsEof((*s)->Recv().status()), "EOF after the server's CloseSend");
        ctx.Check(client.calls == 2 && client.sent == 3 && client.received == 3,
                  absl::StrCat("calls ", client.calls, " sent ", client.sent, " received ",
                               client.received));
      },
      &check);
}

TEST_P(SeamsTest, SimulatedNetworkIsADialer) {
  Run([](Pair& p, sim::SimContext& ctx) {
    Dialer& dialer = ctx.network();
    const Instant deadline = p.env().clock().Now() + Duration::Seconds(1);
    absl::StatusOr<std::unique_ptr<Transport>> refused = dialer.Dial("nobody:1", deadline);
    ctx.Check(absl::IsUnavailable(refused.status()), refused.status().ToString());

    absl::StatusOr<std::unique_ptr<Listener>> listener = ctx.network().Listen("server:9");
    ctx.Check(listener.ok(), listener.status().ToString());
    absl::StatusOr<std::unique_ptr<Transport>> client = dialer.Dial("server:9", deadline);
    ctx.Check(client.ok(), client.status().ToString());
    absl::StatusOr<std::unique_ptr<Transport>> server = (*listener)->Accept();
    ctx.Check(server.ok(), server.status().ToString());
    ctx.Check((*client)->Write("ping").ok(), "write");
    char buf[8];
    absl::StatusOr<size_t> n = (*server)->Read(buf, sizeof(buf));
    ctx.Check(n.ok() && *n >= 1 && buf[0] == 'p', "read what the dialer's transport wrote");
    (*client)->Close();
    (*server)->Close();
    (*listener)->Close();
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, SeamsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Mux" : "Upstream";
                         });

}  // namespace
}  // namespace drpc
