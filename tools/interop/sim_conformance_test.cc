// drpc-cpp against the Go captures, on the simulator:
//   * every Go client recording is replayed against our server (paced like the recording) and our
//     replies must equal the Go server's bytes exactly;
//   * our client runs each case's calls and must send the Go client's bytes (up to what the
//     captures' README calls nondeterministic: metadata entry order, the trailing unary Close).
// The same replay runs over real TCP in //tools/interop:tcp_conformance_test.
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "impl/testing/raw_peer.h"
#include "proto/metadata.h"
#include "sim/simulation.h"
#include "tools/interop/capture.h"
#include "tools/interop/echo_service.h"

namespace drpc::interop {
namespace {

std::string CaptureRoot() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", ws ? ws : "drpc_cpp", "/corpus/conformance");
}

TEST(SimConformanceTest, GoClientRecordingsGetGoServerBytesFromOurServer) {
  const std::string root = CaptureRoot();
  const std::vector<std::string> cases = ListCases(root);
  ASSERT_GE(cases.size(), 19u) << "captures missing under " << root;
  const Router router = EchoRouter();
  int replayed = 0;
  for (const std::string& name : cases) {
    for (int conn : ListConnections(root, name)) {
      absl::StatusOr<Capture> capture = LoadCapture(root, name, conn);
      ASSERT_TRUE(capture.ok()) << capture.status();
      ReplayResult result;
      sim::RunResult run = sim::RunSeed(
          [&](sim::SimContext& ctx) {
            auto [client_end, server_end] = ctx.network().Pipe(capture->name);
            Server server(ctx.env(), router, Options{});
            Signal served(ctx.env());
            ctx.env().scheduler().Spawn("server", [&, t = std::move(server_end)]() mutable {
              server.ServeConn(std::move(t)).IgnoreError();
              served.Set();
            });
            result = ReplayClient(ctx.env(), *client_end, *capture);
            server.Shutdown(ctx.now() + Duration::Seconds(1));
            served.Wait("server");
          },
          1, sim::RunOptions{});
      ASSERT_TRUE(run.ok()) << capture->name << ": " << run.message;
      EXPECT_TRUE(result.error.ok()) << result.error;
      EXPECT_EQ(absl::CHexEscape(result.server_bytes), absl::CHexEscape(capture->s2c))
          << capture->name << ": our server's bytes differ from Go's";
      ++replayed;
    }
  }
  std::printf("replayed %d recorded connections\n", replayed);
}

// What the Go client did in each case (corpus/conformance/README.md), done with our client.
using Script = std::function<void(sim::SimContext&, std::function<Conn&()>)>;

void Unary(sim::SimContext& ctx, Conn& conn, const std::string& rpc, const std::string& req,
           CallContext* call = nullptr) {
  CallContext own(ctx.env());
  absl::StatusOr<std::string> r = conn.Invoke(call ? *call : own, rpc, req);
  ctx.Log(absl::StrCat(rpc, " -> ", r.ok() ? "ok" : r.status().ToString()));
}

// The Message bytes the Go client sent in a capture (for payloads the README does not spell out).
std::string ClientMessage(const std::string& name) {
  absl::StatusOr<Capture> c = LoadCapture(CaptureRoot(), name, 1);
  std::string out;
  if (!c.ok()) return out;
  absl::StatusOr<std::vector<testing::RawFrame>> frames = testing::Decode(c->c2s);
  if (!frames.ok()) return out;
  for (const testing::RawFrame& f : *frames) {
    if (f.kind == Kind::kMessage) out += f.data;
  }
  return out;
}

std::map<std::string, Script> Scripts() {
  std::map<std::string, Script> s;
  s["unary"] = [](sim::SimContext& ctx, auto conn) { Unary(ctx, conn(), "/interop.Echo/Unary", "hello drpc"); };
  s["unary_empty"] = [](sim::SimContext& ctx, auto conn) { Unary(ctx, conn(), "/interop.Echo/Unary", ""); };
  s["unary_large"] = [](sim::SimContext& ctx, auto conn) {
    const std::string big = ClientMessage("unary_large");
    ctx.Check(big.size() == 200000, "unexpected unary_large payload");
    Unary(ctx, conn(), "/interop.Echo/Unary", big);
  };
  s["unary_sequential"] = [](sim::SimContext& ctx, auto conn) {
    for (int i = 0; i < 3; ++i) Unary(ctx, conn(), "/interop.Echo/Unary", absl::StrCat("call-", i));
  };
  auto server_stream = [](const std::string& n) {
    return [n](sim::SimContext& ctx, auto conn) {
      CallContext call(ctx.env());
      absl::StatusOr<std::shared_ptr<Stream>> st = conn().NewStream(call, "/interop.Echo/ServerStream");
      ctx.Check(st.ok() && (*st)->SendLast(n).ok(), "server stream request");
      while ((*st)->Recv().ok()) {
      }
    };
  };
  s["server_stream"] = server_stream("5");
  s["server_stream_zero"] = server_stream("0");
  s["client_stream"] = [](sim::SimContext& ctx, auto conn) {
    CallContext call(ctx.env());
    absl::StatusOr<std::shared_ptr<Stream>> st = conn().NewStream(call, "/interop.Echo/ClientStream");
    for (const char* m : {"abc", "de", "f"}) ctx.Check((*st)->Send(m).ok(), "send");
    ctx.Check((*st)->CloseSend().ok(), "close send");
    ctx.Check((*st)->Recv().ok(), "reply");
  };
  s["bidi"] = [](sim::SimContext& ctx, auto conn) {
    CallContext call(ctx.env());
    absl::StatusOr<std::shared_ptr<Stream>> st = conn().NewStream(call, "/interop.Echo/Bidi");
    for (const char* m : {"one", "two", "three"}) {
      ctx.Check((*st)->Send(m).ok() && (*st)->Recv().ok(), "echo");
    }
    ctx.Check((*st)->CloseSend().ok() && IsEof((*st)->Recv().status()), "end");
  };
  s["fail"] = [](sim::SimContext& ctx, auto conn) {
    Unary(ctx, conn(), "/interop.Echo/Fail", "x");
    Unary(ctx, conn(), "/interop.Echo/Unary", "after-fail");
  };
  s["meta"] = [](sim::SimContext& ctx, auto conn) {
    CallContext call(ctx.env());
    call.metadata() = {{"alpha", "1"}, {"beta", "two"}};
    Unary(ctx, conn(), "/interop.Echo/Meta", "", &call);
    Unary(ctx, conn(), "/interop.Echo/Meta", "");
  };
  s["unknown_rpc"] = [](sim::SimContext& ctx, auto conn) {
    Unary(ctx, conn(), "/interop.Echo/DoesNotExist", "x");
    Unary(ctx, conn(), "/interop.Echo/Unary", "after-unknown");
  };
  return s;
}

// Frames with the nondeterministic parts normalised: Close frames dropped, metadata decoded.
std::vector<std::string> Normalise(absl::string_view bytes) {
  absl::StatusOr<std::vector<testing::RawFrame>> frames = testing::Decode(bytes);
  std::vector<std::string> out;
  if (!frames.ok()) return {frames.status().ToString()};
  for (testing::RawFrame& f : *frames) {
    if (f.kind == Kind::kClose) continue;
    if (f.kind == Kind::kInvokeMetadata) {
      absl::StatusOr<Metadata> md = DecodeMetadata(f.data);
      f.data = md.ok() ? EncodeMetadata(*md) : "undecodable";
    }
    out.push_back(f.ToString() + (f.data.size() > 40 ? absl::StrCat(" len=", f.data.size(), " crc=",
                                                                      std::hash<std::string>{}(f.data))
                                                      : ""));
  }
  return out;
}

TEST(SimConformanceTest, OurClientSendsTheGoClientsBytes) {
  const std::string root = CaptureRoot();
  const Router router = EchoRouter();
  for (const auto& entry : Scripts()) {
    // Named copies, not structured bindings: clang 14 cannot capture bindings in lambdas.
    const std::string& name = entry.first;
    const auto& script = entry.second;
    absl::StatusOr<Capture> capture = LoadCapture(root, name, 1);
    ASSERT_TRUE(capture.ok()) << capture.status();
    std::string sent;
    sim::RunResult run = sim::RunSeed(
        [&](sim::SimContext& ctx) {
          auto [client_end, server_end] = ctx.network().Pipe(name);
          auto recording = std::make_unique<testing::RecordingTransport>(std::move(client_end));
          auto writes = recording->writes();
          Server server(ctx.env(), router, Options{});
          Signal served(ctx.env());
          ctx.env().scheduler().Spawn("server", [&, t = std::move(server_end)]() mutable {
            server.ServeConn(std::move(t)).IgnoreError();
            served.Set();
          });
          absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(ctx.env(), std::move(recording));
          script(ctx, [&]() -> Conn& { return **conn; });
          (*conn)->Close();
          server.Shutdown(ctx.now() + Duration::Seconds(1));
          served.Wait("server");
          for (const std::string& w : *writes) sent += w;
        },
        1, sim::RunOptions{});
    ASSERT_TRUE(run.ok()) << name << ": " << run.message;
    EXPECT_EQ(Normalise(sent), Normalise(capture->c2s)) << name;
  }
}

}  // namespace
}  // namespace drpc::interop
