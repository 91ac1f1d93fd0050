// drpc-cpp against the Go captures over real loopback TCP on the production runtime:
//   * every Go client recording is replayed (paced like the recording) against our TcpServer and
//     our replies must equal the Go server's bytes exactly;
//   * our client runs each case's calls against a raw socket peer that answers with the Go
//     server's recorded bytes, and must send the Go client's bytes (up to the nondeterministic
//     parts, see NormaliseClientBytes).
// The same comparisons run on the simulator in sim_conformance_test. Here the replays wait for the
// bytes each side owes without a time limit (kPatience): real threads on a loaded machine may be
// descheduled for any time, and a side that never sends them hangs the test until its timeout.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/runtime/tcp_server.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "tools/interop/capture.h"
#include "tools/interop/conformance.h"

namespace drpc::interop {
namespace {

using runtime::Dial;
using runtime::DialOptions;
using runtime::Reactor;
using runtime::Runtime;
using runtime::TcpListener;
using runtime::TcpServer;
using runtime::TcpServerOptions;

constexpr Duration kPatience = Duration::Infinite();

std::unique_ptr<Runtime> StartRuntime() {
  absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start({.reactor_count = 2});
  EXPECT_TRUE(rt.ok()) << rt.status();
  return rt.ok() ? *std::move(rt) : nullptr;
}

// Replays one recording from reactor `reactor` against the server at `address`.
absl::StatusOr<ReplayResult> Replay(Runtime& rt, size_t reactor, const std::string& address,
                                    const Capture& capture, DialOptions dial = DialOptions{}) {
  return rt.Run(reactor, [&](Reactor& r) -> absl::StatusOr<ReplayResult> {
    absl::StatusOr<std::unique_ptr<runtime::TcpTransport>> t = Dial(r, address, dial);
    if (!t.ok()) return t.status();
    return ReplayClient(r.env(), **t, capture, kPatience);
  });
}

TEST(TcpConformanceTest, GoClientRecordingsGetGoServerBytesFromOurServer) {
  auto rt = StartRuntime();
  ASSERT_NE(rt, nullptr);
  const Router router = testing::EchoRouter();
  absl::StatusOr<std::unique_ptr<TcpServer>> server = TcpServer::Start(*rt, router, {});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string root = CaptureRoot();
  const std::vector<std::string> cases = ListCases(root);
  ASSERT_GE(cases.size(), 19u) << "captures missing under " << root;
  size_t replayed = 0;
  for (const std::string& name : cases) {
    for (int conn : ListConnections(root, name)) {
      absl::StatusOr<Capture> capture = LoadCapture(root, name, conn);
      ASSERT_TRUE(capture.ok()) << capture.status();
      absl::StatusOr<ReplayResult> result =
          Replay(*rt, replayed % 2, (*server)->address(), *capture);
      ASSERT_TRUE(result.ok()) << capture->name << ": " << result.status();
      EXPECT_TRUE(result->error.ok()) << result->error;
      EXPECT_EQ(absl::CHexEscape(result->server_bytes), absl::CHexEscape(capture->s2c))
          << capture->name << ": our server's bytes differ from Go's";
      ++replayed;
    }
  }
  (*server)->Shutdown(Duration::Seconds(1));
  EXPECT_EQ((*server)->stats().connections_accepted, replayed);
}

TEST(TcpConformanceTest, MigrateHeaderIsStrippedBeforeTheDrpcBytes) {
  auto rt = StartRuntime();
  ASSERT_NE(rt, nullptr);
  const Router router = testing::EchoRouter();
  absl::StatusOr<std::unique_ptr<TcpServer>> server =
      TcpServer::Start(*rt, router, TcpServerOptions{.migrate_header = true});
  ASSERT_TRUE(server.ok()) << server.status();
  for (const char* name : {"unary", "bidi", "meta"}) {
    absl::StatusOr<Capture> capture = LoadCapture(CaptureRoot(), name, 1);
    ASSERT_TRUE(capture.ok()) << capture.status();
    absl::StatusOr<ReplayResult> result = Replay(*rt, 1, (*server)->address(), *capture,
                                                 DialOptions{.migrate_header = true});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(absl::CHexEscape(result->server_bytes), absl::CHexEscape(capture->s2c)) << name;
  }
  (*server)->Shutdown(Duration::Seconds(1));
  EXPECT_EQ((*server)->stats().handshake_failures, 0u);
}

TEST(TcpConformanceTest, OurClientSendsTheGoClientsBytes) {
  auto rt = StartRuntime();
  ASSERT_NE(rt, nullptr);
  for (const auto& entry : ClientScripts()) {
    // Named references, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const auto& name = entry.first;
    const auto& script = entry.second;
    absl::StatusOr<Capture> capture = LoadCapture(CaptureRoot(), name, 1);
    ASSERT_TRUE(capture.ok()) << capture.status();
    // The Go server's side, played by a raw socket peer on reactor 0.
    runtime::runtime_internal::Latch peer_done(1);
    ServerReplayResult peer;
    absl::StatusOr<std::string> address = rt->Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
      absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
      if (!l.ok()) return l.status();
      std::string addr = (*l)->address();
      DRPC_CHECK_OK(r.Spawn("go server replay", [&, l = *std::move(l)]() mutable {
        absl::StatusOr<std::unique_ptr<Transport>> t = l->Accept();
        if (t.ok()) {
          peer = ReplayServer(r.env(), **t, *capture, kPatience);
        } else {
          peer.error = t.status();
        }
        t = absl::CancelledError("done");
        l.reset();
        peer_done.CountDown();
      }));
      return addr;
    });
    ASSERT_TRUE(address.ok()) << address.status();
    // Our client on reactor 1.
    absl::Status scripted = rt->Run(1, [&](Reactor& r) -> absl::Status {
      absl::StatusOr<std::unique_ptr<runtime::TcpTransport>> t = Dial(r, *address);
      if (!t.ok()) return t.status();
      absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t));
      if (!conn.ok()) return conn.status();
      absl::Status s = script(r.env(), **conn);
      (*conn)->Close();
      return s;
    });
    peer_done.Wait();
    EXPECT_TRUE(scripted.ok()) << name << ": " << scripted;
    EXPECT_TRUE(peer.error.ok()) << name << ": " << peer.error;
    EXPECT_EQ(NormaliseClientBytes(peer.client_bytes), NormaliseClientBytes(capture->c2s)) << name;
  }
}

}  // namespace
}  // namespace drpc::interop
