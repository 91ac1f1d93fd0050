// Generated code over real loopback TCP on the production runtime (impl/runtime): the generated
// interop.Echo client against the generated server (EchoService) on a TcpServer with two reactors,
// in upstream and mux mode; in mux mode, many typed calls of every shape at once on one connection.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/runtime/tcp_server.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

using interop::Echo;
using interop::EchoMessage;
using runtime::Reactor;
using runtime::Runtime;
using runtime::TcpServer;

// One call of each shape; `tag` makes the messages of concurrent callers distinct.
absl::Status CallEachShape(const Echo::Client& echo, CallContext& ctx, int tag) {
  EchoMessage m;
  m.set_text(absl::StrCat("caller-", tag));
  m.set_sequence(tag);
  m.add_numbers(-tag);
  absl::StatusOr<EchoMessage> unary = echo.Unary(ctx, m);
  if (!unary.ok()) return unary.status();
  if (unary->SerializeAsString() != m.SerializeAsString()) return absl::InternalError("unary");

  interop::CountRequest count;
  count.set_count(3);
  absl::StatusOr<ServerStreamCall<EchoMessage>> down = echo.ServerStream(ctx, count);
  if (!down.ok()) return down.status();
  int received = 0;
  for (absl::StatusOr<EchoMessage> r = down->Recv(); r.ok(); r = down->Recv()) ++received;
  if (received != 3) return absl::InternalError(absl::StrCat("server stream: ", received));

  absl::StatusOr<ClientStreamCall<EchoMessage, interop::CountReply>> up = echo.ClientStream(ctx);
  if (!up.ok()) return up.status();
  for (int i = 0; i < 5; ++i) {
    if (absl::Status st = up->Send(m); !st.ok()) return st;
  }
  absl::StatusOr<interop::CountReply> total = up->CloseAndRecv();
  if (!total.ok()) return total.status();
  if (total->messages() != 5) return absl::InternalError("client stream count");

  absl::StatusOr<BidiStreamCall<EchoMessage, EchoMessage>> bidi = echo.Bidi(ctx);
  if (!bidi.ok()) return bidi.status();
  for (int i = 0; i < 3; ++i) {
    if (absl::Status st = bidi->Send(m); !st.ok()) return st;
    absl::StatusOr<EchoMessage> back = bidi->Recv();
    if (!back.ok()) return back.status();
    if (back->text() != m.text()) return absl::InternalError("bidi: another caller's message");
  }
  if (absl::Status st = bidi->CloseSend(); !st.ok()) return st;
  if (!IsEof(bidi->Recv().status())) return absl::InternalError("bidi: no EOF");

  absl::StatusOr<EchoMessage> failed = echo.Fail(ctx, m);
  if (RemoteErrorCode(failed.status()) != 42u) return absl::InternalError("fail: code");
  return absl::OkStatus();
}

class GeneratedTcpTest : public ::testing::TestWithParam<bool> {};

TEST_P(GeneratedTcpTest, GeneratedClientAndServerTalkOverTcp) {
  const bool mux = GetParam();
  absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start({.reactor_count = 2});
  ASSERT_TRUE(rt.ok()) << rt.status();
  interop::EchoService service;
  Router router;
  ASSERT_TRUE(Echo::Register(router, service).ok());
  runtime::TcpServerOptions options;
  options.connection.mux = mux;
  absl::StatusOr<std::unique_ptr<TcpServer>> server = TcpServer::Start(**rt, router, options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();

  // Upstream: one caller per connection. Mux: eight callers share one connection.
  const int callers = mux ? 8 : 1;
  const absl::Status st = (*rt)->Run(1, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<runtime::TcpTransport>> t = runtime::Dial(r, address);
    if (!t.ok()) return t.status();
    Options conn_options;
    conn_options.mux = mux;
    absl::StatusOr<std::unique_ptr<Conn>> conn =
        Conn::Create(r.env(), *std::move(t), conn_options);
    if (!conn.ok()) return conn.status();
    const Echo::Client echo(**conn);
    std::vector<absl::Status> results(callers);
    WaitGroup done(r.env());
    for (int i = 0; i < callers; ++i) {
      done.Add();
      DRPC_CHECK_OK(r.Spawn(absl::StrCat("caller ", i), [&, i] {
        CallContext ctx(r.env());
        ctx.SetTimeout(Duration::Seconds(10));
        for (int round = 0; round < 3 && results[i].ok(); ++round) {
          results[i] = CallEachShape(echo, ctx, i);
        }
        done.Done();
      }));
    }
    done.Wait("test: callers");
    (*conn)->Close();
    for (const absl::Status& result : results) {
      if (!result.ok()) return result;
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  (*server)->Shutdown(Duration::Seconds(1));
  server->reset();
  (*rt)->Stop();
}

INSTANTIATE_TEST_SUITE_P(Modes, GeneratedTcpTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Mux" : "Upstream";
                         });

}  // namespace
}  // namespace drpc
