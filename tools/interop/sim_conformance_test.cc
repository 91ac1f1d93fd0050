// drpc-cpp against the Go captures, on the simulator:
//   * every Go client recording is replayed against our server (paced like the recording) and our
//     replies must equal the Go server's bytes exactly;
//   * our client runs each case's calls and must send the Go client's bytes (up to what the
//     captures' README calls nondeterministic: metadata entry order, the trailing unary Close).
// The same replay runs over real TCP in //tools/interop:tcp_conformance_test.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "impl/testing/echo_service.h"
#include "impl/testing/raw_peer.h"
#include "proto/base/check.h"
#include "sim/simulation.h"
#include "tools/interop/capture.h"
#include "tools/interop/conformance.h"

namespace drpc::interop {
namespace {

TEST(SimConformanceTest, GoClientRecordingsGetGoServerBytesFromOurServer) {
  const std::string root = CaptureRoot();
  const std::vector<std::string> cases = ListCases(root);
  ASSERT_GE(cases.size(), 19u) << "captures missing under " << root;
  const Router router = testing::EchoRouter();
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
            DRPC_CHECK_OK(ctx.env().scheduler().Spawn("server", [&, t = std::move(server_end)]() mutable {
              server.ServeConn(std::move(t)).IgnoreError();
              served.Set();
            }));
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

TEST(SimConformanceTest, OurClientSendsTheGoClientsBytes) {
  const std::string root = CaptureRoot();
  const Router router = testing::EchoRouter();
  for (const auto& entry : ClientScripts()) {
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
          DRPC_CHECK_OK(ctx.env().scheduler().Spawn("server", [&, t = std::move(server_end)]() mutable {
            server.ServeConn(std::move(t)).IgnoreError();
            served.Set();
          }));
          absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(ctx.env(), std::move(recording));
          const absl::Status scripted = script(ctx.env(), **conn);
          ctx.Check(scripted.ok(), scripted.ToString());
          (*conn)->Close();
          server.Shutdown(ctx.now() + Duration::Seconds(1));
          served.Wait("server");
          for (const std::string& w : *writes) sent += w;
        },
        1, sim::RunOptions{});
    ASSERT_TRUE(run.ok()) << name << ": " << run.message;
    EXPECT_EQ(NormaliseClientBytes(sent), NormaliseClientBytes(capture->c2s)) << name;
  }
}

}  // namespace
}  // namespace drpc::interop
