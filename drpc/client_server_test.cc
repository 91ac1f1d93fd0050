// drpc::Client and drpc::ServerBuilder over real TCP: calls from many application threads, the
// callback and stream styles, generated stubs through Run and inside fibers of another reactor
// (with cancellation crossing reactors), reconnecting after a server restart on the same port,
// TLS, interceptors, metrics, Close.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "drpc/client.h"
#include "drpc/server.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "gtest/gtest.h"
#include "impl/app/standard_interceptors.h"
#include "impl/errors.h"
#include "impl/runtime/cert_gen.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

using interop::EchoMessage;

struct EchoServer {
  interop::EchoService service;
  std::unique_ptr<RunningServer> server;
  std::string address() const { return server->addresses().at(0); }
};

std::unique_ptr<EchoServer> StartEcho(ServerBuilder& builder, std::string address = "127.0.0.1:0") {
  auto out = std::make_unique<EchoServer>();
  EXPECT_TRUE(interop::Echo::Register(builder.router(), out->service).ok());
  absl::StatusOr<std::unique_ptr<RunningServer>> s =
      builder.ListenOn(std::move(address)).WithReactors(2).Start();
  EXPECT_TRUE(s.ok()) << s.status();
  if (s.ok()) out->server = *std::move(s);
  return out;
}

std::string UnaryBytes(absl::string_view text) {
  EchoMessage m;
  m.set_text(std::string(text));
  return m.SerializeAsString();
}

std::string TextOf(const absl::StatusOr<std::string>& bytes) {
  EchoMessage m;
  if (!bytes.ok() || !m.ParseFromString(*bytes)) return "<" + bytes.status().ToString() + ">";
  return m.text();
}

TEST(ClientTest, ManyApplicationThreadsShareOneClient) {
  ServerBuilder builder;
  auto echo = StartEcho(builder);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Dial(echo->address());
  ASSERT_TRUE(client.ok()) << client.status();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string text = absl::StrCat("t", t, "-", i);
        absl::StatusOr<std::string> r =
            (*client)->Call("/interop.Echo/Unary", UnaryBytes(text), {.timeout = Duration::Seconds(10)});
        if (TextOf(r) == text) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ((*client)->generation(), 1u);
  client->reset();
  echo->server->Shutdown(Duration::Seconds(1));
}

TEST(ClientTest, CallbackStreamAndStubStylesWork) {
  ServerBuilder builder;
  auto echo = StartEcho(builder);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Dial(echo->address());
  ASSERT_TRUE(client.ok()) << client.status();
  // Callback.
  runtime::runtime_internal::Latch done(1);
  std::string async_text;
  (*client)->CallAsync("/interop.Echo/Unary", UnaryBytes("async"), {},
                       [&](absl::StatusOr<std::string> r) {
                         async_text = TextOf(r);
                         done.CountDown();
                       });
  done.Wait();
  EXPECT_EQ(async_text, "async");
  // A stream driven from this thread.
  absl::StatusOr<std::unique_ptr<BlockingStream>> s = (*client)->OpenStream("/interop.Echo/Bidi");
  ASSERT_TRUE(s.ok()) << s.status();
  for (const char* text : {"one", "two"}) {
    ASSERT_TRUE((*s)->Send(UnaryBytes(text)).ok());
    EXPECT_EQ(TextOf((*s)->Recv()), text);
  }
  ASSERT_TRUE((*s)->CloseSend().ok());
  EXPECT_TRUE(IsEof((*s)->Recv().status()));
  s->reset();
  // Generated stubs, from this thread through Run.
  absl::StatusOr<interop::EchoMessage> reply =
      (*client)->Run([](ClientConn& conn, CallContext& ctx) {
        interop::EchoMessage m;
        m.set_text("stub");
        return interop::Echo::Client(conn).Unary(ctx, m);
      });
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "stub");
  // Metadata through CallOptions.
  absl::StatusOr<interop::MetaReply> meta = (*client)->Run(
      [](ClientConn& conn, CallContext& ctx) {
        return interop::Echo::Client(conn).Meta(ctx, google::protobuf::Empty());
      },
      {.metadata = {{"user", "ada"}}});
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(meta->entries_size(), 1);
  EXPECT_EQ(meta->entries(0).value(), "ada");
  client->reset();
  echo->server->Shutdown(Duration::Seconds(1));
}

TEST(ClientTest, InsideAFiberOfAnotherReactorCallsParkTheFiberAndCancelsCross) {
  ServerBuilder builder;
  auto echo = StartEcho(builder);
  auto rt = std::shared_ptr<runtime::Runtime>(*runtime::Runtime::Start({.reactor_count = 2}));
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Dial(echo->address(), {.runtime = rt});
  ASSERT_TRUE(client.ok()) << client.status();
  const size_t other = 1 - (*client)->reactor_index();
  absl::Status st = rt->Run(other, [&](runtime::Reactor& r) -> absl::Status {
    CallContext ctx(r.env());
    interop::EchoMessage m;
    m.set_text("fiber");
    absl::StatusOr<interop::EchoMessage> got = interop::Echo::Client(**client).Unary(ctx, m);
    if (!got.ok()) return got.status();
    if (got->text() != "fiber") return absl::InternalError("wrong reply: " + got->text());
    // Slow waits for its context and has no deadline: it ends only if this reactor runs another
    // fiber while the caller is parked (the canceller, queued behind the caller, which does not
    // yield before the hop parks it) and that cancel crosses to the client's home reactor. A
    // blocked reactor or a cancel that stays here hangs the call until the test's timeout.
    CallContext slow(r.env());
    bool cancelled = false;
    DRPC_CHECK_OK(r.Spawn("canceller", [&] {
      cancelled = true;
      slow.Cancel(absl::CancelledError("cancelled by another fiber of the caller's reactor"));
    }));
    absl::Status s = interop::Echo::Client(**client).Slow(slow, google::protobuf::Empty()).status();
    if (!cancelled || !absl::IsCancelled(s)) return absl::InternalError(s.ToString());
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  client->reset();
  echo->server->Shutdown(Duration::Seconds(1));
}

TEST(ClientTest, ReconnectsWhenTheServerComesBackOnTheSamePort) {
  auto first_builder = std::make_unique<ServerBuilder>();
  auto first = StartEcho(*first_builder);
  const std::string address = first->address();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Dial(
      address, {.backoff = {.initial = Duration::Millis(20), .max = Duration::Millis(100)},
                .stable_after = Duration::Zero(),
                .wait_for_ready = true});
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(TextOf((*client)->Call("/interop.Echo/Unary", UnaryBytes("a"))), "a");
  first->server->Shutdown(Duration::Zero());
  ServerBuilder second_builder;
  auto second = StartEcho(second_builder, address);
  ASSERT_NE(second->server, nullptr);
  EXPECT_EQ(TextOf((*client)->Call("/interop.Echo/Unary", UnaryBytes("b"),
                                   {.timeout = Duration::Seconds(10)})),
            "b");
  EXPECT_EQ((*client)->generation(), 2u);
  client->reset();
  second->server->Shutdown(Duration::Seconds(1));
}

TEST(ClientTest, DialFailsClearlyWhenNothingListensAndCloseEndsCalls) {
  absl::StatusOr<std::unique_ptr<Client>> refused = Client::Dial("127.0.0.1:1");
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  MetricsRegistry metrics;
  absl::StatusOr<std::unique_ptr<Client>> lazy = Client::Dial(
      "127.0.0.1:1", {.wait_for_ready = true, .connect_now = false, .metrics = &metrics});
  ASSERT_TRUE(lazy.ok());
  // Close once the call is under way, waiting for a server: the client dials only for a call
  // (connect_now = false), so its first dial is the call's. (A Close before the call would end
  // it too, but would not show that Close ends a call already waiting.)
  std::thread closer([&] {
    while (metrics.Get(Side::kClient, Metric::kDials) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    (*lazy)->Close();
  });
  absl::StatusOr<std::string> r = (*lazy)->Call("/interop.Echo/Unary", "");
  closer.join();
  EXPECT_TRUE(IsClosed(r.status())) << r.status();
}

TEST(ServerBuilderTest, TlsInterceptorsAndMetricsEndToEnd) {
  absl::StatusOr<runtime::Certificate> ca = runtime::MakeCa("test CA");
  ASSERT_TRUE(ca.ok());
  absl::StatusOr<runtime::Certificate> cert =
      runtime::IssueCertificate({.common_name = "s", .ip_addresses = {"127.0.0.1"}}, *ca);
  ASSERT_TRUE(cert.ok());
  MetricsRegistry metrics;
  ServerBuilder builder;
  builder.WithTls({.cert_chain_pem = cert->cert_pem, .private_key_pem = cert->key_pem})
      .WithMetrics(&metrics)
      .AddInterceptor(RequireToken("authorization", [](absl::string_view t) {
        return t == "Bearer ok" ? absl::OkStatus() : absl::PermissionDeniedError("bad token");
      }));
  auto echo = StartEcho(builder);
  ASSERT_NE(echo->server, nullptr);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Dial(
      echo->address(), {.tls = runtime::TlsClientConfig{.ca_pem = ca->cert_pem},
                        .interceptors = {AttachMetadata("authorization", "Bearer ok")},
                        .metrics = &metrics});
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(TextOf((*client)->Call("/interop.Echo/Unary", UnaryBytes("secure"))), "secure");
  absl::StatusOr<std::unique_ptr<Client>> anonymous =
      Client::Dial(echo->address(), {.tls = runtime::TlsClientConfig{.ca_pem = ca->cert_pem}});
  ASSERT_TRUE(anonymous.ok());
  EXPECT_TRUE(absl::IsUnauthenticated((*anonymous)->Call("/interop.Echo/Unary", "").status()));
  // A plaintext client on the TLS port: no deadline, so its call ends only when the server fails
  // the handshake and closes the connection (a timeout could end it before the server took the
  // connection at all, and then no handshake failure would be counted below).
  absl::StatusOr<std::unique_ptr<Client>> untrusting = Client::Dial(echo->address());
  EXPECT_FALSE(untrusting.ok() && (*untrusting)->Call("/interop.Echo/Unary", "").ok());
  client->reset();
  anonymous->reset();
  untrusting = absl::CancelledError("done");
  echo->server->Shutdown(Duration::Seconds(1));
  EXPECT_EQ(metrics.Get(Side::kClient, Metric::kStreamsOpened), 1);
  EXPECT_EQ(metrics.Get(Side::kServer, Metric::kStreamsOpened), 2);
  EXPECT_EQ(metrics.Get(Side::kServer, Metric::kStreamsFailed), 1);
  EXPECT_GE(metrics.Get(Side::kServer, Metric::kConnectionsOpened), 2);
  EXPECT_EQ(metrics.Get(Side::kServer, Metric::kConnectionsActive), 0);
  EXPECT_GT(metrics.Get(Side::kClient, Metric::kBytesWritten), 0);
  EXPECT_EQ(metrics.Get(Side::kClient, Metric::kDials), 1);
  const std::string text = RenderPrometheus(metrics.Read());
  EXPECT_TRUE(absl::StrContains(text, "drpc_streams_failed_total{side=\"server\"} 1")) << text;
  EXPECT_GE(echo->server->stats().handshake_failures, 1u);
}

}  // namespace
}  // namespace drpc
