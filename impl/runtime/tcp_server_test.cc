// TcpServer over real TCP: connections spread over reactors and pinned there, graceful and forced
// shutdown, the connection limit, the drpcmigrate header, mux mode.
#include "impl/runtime/tcp_server.h"

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/runtime/test_util.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

using testing::CountOpenFds;
using testing::StartRuntime;

struct Hooks {
  runtime_internal::Latch slow_started{1};
};

Router TestRouter(Hooks* hooks) {
  Router r;
  DRPC_CHECK_OK(
      r.Unary("/t.S/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
        return std::string(req);
      }));
  // Which reactor serves the call.
  DRPC_CHECK_OK(
      r.Unary("/t.S/Where", [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
        return absl::StrCat(Reactor::ForThisThread()->index());
      }));
  // Runs for a while, then succeeds (a call in flight during a graceful shutdown).
  DRPC_CHECK_OK(r.Unary(
      "/t.S/Slow", [hooks](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
        hooks->slow_started.CountDown();
        SleepFor(ctx.env(), Duration::Millis(50), "test: slow handler");
        return std::string("finished");
      }));
  // Blocks until cancelled.
  DRPC_CHECK_OK(r.Unary(
      "/t.S/Block", [hooks](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
        hooks->slow_started.CountDown();
        ctx.done_signal().Wait("test: blocked handler");
        return ctx.err();
      }));
  return r;
}

// Dials, makes one call, closes; on a fiber of `r`.
absl::StatusOr<std::string> CallOnce(Reactor& r, const std::string& address, absl::string_view rpc,
                                     absl::string_view request, Options options = Options{},
                                     DialOptions dial = DialOptions{}) {
  absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, address, dial);
  if (!t.ok()) return t.status();
  absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t), options);
  if (!conn.ok()) return conn.status();
  CallContext ctx(r.env());
  ctx.SetTimeout(Duration::Seconds(10));
  absl::StatusOr<std::string> reply = (*conn)->Invoke(ctx, rpc, request);
  (*conn)->Close();
  return reply;
}

std::unique_ptr<TcpServer> StartServer(Runtime& rt, const Router& router,
                                       TcpServerOptions options = TcpServerOptions{}) {
  absl::StatusOr<std::unique_ptr<TcpServer>> s = TcpServer::Start(rt, router, std::move(options));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(TcpServerTest, ConnectionsSpreadOverReactorsAndStayPinned) {
  auto rt = StartRuntime(3);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  auto server = StartServer(*rt, router);
  ASSERT_NE(server, nullptr);
  constexpr int kConnsPerClientReactor = 8;
  std::vector<std::set<std::string>> served_by(3);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      absl::Status s = rt->Run(i, [&, i](Reactor& r) -> absl::Status {
        WaitGroup wg(r.env());
        for (int c = 0; c < kConnsPerClientReactor; ++c) {
          wg.Add();
          DRPC_CHECK_OK(r.Spawn(absl::StrCat("client ", c), [&, c] {
            absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, server->address());
            ASSERT_TRUE(t.ok()) << t.status();
            auto conn = Conn::Create(r.env(), *std::move(t));
            ASSERT_TRUE(conn.ok());
            std::set<std::string> where;
            for (int k = 0; k < 10; ++k) {
              CallContext ctx(r.env());
              const std::string req = absl::StrCat("c", c, "-", k);
              EXPECT_EQ((*conn)->Invoke(ctx, "/t.S/Echo", req).value_or("?"), req);
              where.insert((*conn)->Invoke(ctx, "/t.S/Where", "").value_or("?"));
            }
            (*conn)->Close();
            EXPECT_EQ(where.size(), 1u) << "a connection is served by one reactor";
            served_by[i].insert(where.begin(), where.end());
            wg.Done();
          }));
        }
        wg.Wait();
        return absl::OkStatus();
      });
      EXPECT_TRUE(s.ok()) << s;
    });
  }
  for (std::thread& t : clients) t.join();
  std::set<std::string> all;
  for (const auto& s : served_by) all.insert(s.begin(), s.end());
  EXPECT_EQ(all, (std::set<std::string>{"0", "1", "2"})) << "round-robin uses every reactor";
  EXPECT_EQ(server->stats().connections_accepted, 3u * kConnsPerClientReactor);
  server->Shutdown(Duration::Seconds(1));
  EXPECT_EQ(server->stats().connections_active, 0u);
}

TEST(TcpServerTest, ShutdownLetsARunningCallFinishWithinGrace) {
  auto rt = StartRuntime(2);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  auto server = StartServer(*rt, router);
  ASSERT_NE(server, nullptr);
  runtime_internal::Latch called(1);
  absl::StatusOr<std::string> reply;
  ASSERT_TRUE(rt->Post(1, [&](Reactor& r) {
                  reply = CallOnce(r, server->address(), "/t.S/Slow", "");
                  called.CountDown();
                }).ok());
  hooks.slow_started.Wait();
  server->Shutdown(Duration::Seconds(10));
  called.Wait();
  EXPECT_EQ(reply.value_or(reply.status().ToString()), "finished");
  absl::StatusOr<std::string> late = rt->Run(1, [&](Reactor& r) {
    return CallOnce(r, server->address(), "/t.S/Echo", "x");
  });
  EXPECT_FALSE(late.ok()) << "no longer listening";
}

TEST(TcpServerTest, ShutdownCancelsCallsStillRunningAfterGrace) {
  auto rt = StartRuntime(2);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  auto server = StartServer(*rt, router);
  ASSERT_NE(server, nullptr);
  runtime_internal::Latch called(1);
  absl::StatusOr<std::string> reply;
  ASSERT_TRUE(rt->Post(1, [&](Reactor& r) {
                  reply = CallOnce(r, server->address(), "/t.S/Block", "");
                  called.CountDown();
                }).ok());
  hooks.slow_started.Wait();
  server->Shutdown(Duration::Millis(20));
  called.Wait();
  EXPECT_FALSE(reply.ok());
  EXPECT_FALSE(absl::IsDeadlineExceeded(reply.status())) << "ended by the server, not the timeout";
}

// A connection over the limit is told why: its first call fails with "server busy: connection
// refused ..." (an Error from the server), not a bare close.
TEST(TcpServerTest, ConnectionsOverTheLimitAreRefusedWithAnError) {
  auto rt = StartRuntime(1);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  auto server = StartServer(*rt, router,
                            TcpServerOptions{.connection = Options{.connections_max_count = 1}});
  ASSERT_NE(server, nullptr);
  absl::Status s = rt->Run(0, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, server->address());
    if (!t.ok()) return t.status();
    auto first = Conn::Create(r.env(), *std::move(t));
    CallContext ctx(r.env());
    EXPECT_EQ((*first)->Invoke(ctx, "/t.S/Echo", "one").value_or("?"), "one");
    absl::StatusOr<std::string> second = CallOnce(r, server->address(), "/t.S/Echo", "two");
    EXPECT_TRUE(absl::IsResourceExhausted(second.status())) << second.status();
    EXPECT_THAT(std::string(second.status().message()),
                ::testing::HasSubstr("server busy: connection refused: 1 connections are served "
                                     "(Options::connections_max_count = 1)"));
    EXPECT_EQ((*first)->Invoke(ctx, "/t.S/Echo", "still").value_or("?"), "still");
    (*first)->Close();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  // Counted once the refusal's Error was sent, which the client may read first (the refusing
  // fiber can yield after its write): read after Shutdown has joined every connection's fiber.
  server->Shutdown(Duration::Seconds(1));
  EXPECT_EQ(server->stats().connections_refused_with_error, 1u);
  EXPECT_EQ(server->stats().connections_refused, 0u);
}

// Options::connections_max_count is one limit for the whole server, not one per reactor: with two
// connections open on two reactors and a limit of two, a third is refused.
TEST(TcpServerTest, TheConnectionLimitSpansEveryReactor) {
  auto rt = StartRuntime(2);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  auto server = StartServer(*rt, router,
                            TcpServerOptions{.connection = Options{.connections_max_count = 2}});
  ASSERT_NE(server, nullptr);
  absl::Status s = rt->Run(0, [&](Reactor& r) -> absl::Status {
    std::vector<std::unique_ptr<Conn>> open;
    std::set<std::string> reactors;
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, server->address());
      if (!t.ok()) return t.status();
      absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t));
      if (!conn.ok()) return conn.status();
      CallContext ctx(r.env());
      absl::StatusOr<std::string> where = (*conn)->Invoke(ctx, "/t.S/Where", "");
      if (!where.ok()) return where.status();
      reactors.insert(*where);
      open.push_back(*std::move(conn));
    }
    EXPECT_EQ(reactors.size(), 2u) << "the two connections should be served by both reactors";
    EXPECT_TRUE(absl::IsResourceExhausted(
        CallOnce(r, server->address(), "/t.S/Echo", "third").status()));
    for (auto& conn : open) conn->Close();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  server->Shutdown(Duration::Seconds(1));  // joins the refusing fiber (see above)
  EXPECT_EQ(server->stats().connections_refused_with_error, 1u);
}

TEST(TcpServerTest, MigrateHeaderIsRequiredWhenConfigured) {
  auto rt = StartRuntime(2);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  auto server = StartServer(*rt, router, TcpServerOptions{.migrate_header = true});
  ASSERT_NE(server, nullptr);
  absl::Status s = rt->Run(1, [&](Reactor& r) -> absl::Status {
    EXPECT_EQ(CallOnce(r, server->address(), "/t.S/Echo", "hdr", Options{},
                       DialOptions{.migrate_header = true})
                  .value_or("?"),
              "hdr");
    EXPECT_FALSE(CallOnce(r, server->address(), "/t.S/Echo", "no header").ok());
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(server->stats().handshake_failures, 1u);
}

TEST(TcpServerTest, MuxServerRunsConcurrentCallsOnOneConnection) {
  auto rt = StartRuntime(2);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  Options mux;
  mux.mux = true;
  auto server = StartServer(*rt, router, TcpServerOptions{.connection = mux});
  ASSERT_NE(server, nullptr);
  absl::Status s = rt->Run(1, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, server->address());
    if (!t.ok()) return t.status();
    auto conn = Conn::Create(r.env(), *std::move(t), mux);
    if (!conn.ok()) return conn.status();
    WaitGroup wg(r.env());
    for (int i = 0; i < 16; ++i) {
      wg.Add();
      DRPC_CHECK_OK(r.Spawn(absl::StrCat("call ", i), [&, i] {
        CallContext ctx(r.env());
        const std::string req(static_cast<size_t>(1000 * i), static_cast<char>('a' + i));
        EXPECT_EQ((*conn)->Invoke(ctx, "/t.S/Echo", req).value_or("?"), req);
        wg.Done();
      }));
    }
    wg.Wait();
    (*conn)->Close();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

// Between calls, a connection over TCP waits for its peer with no read buffer (it takes one
// again for the next reply), in both modes. The server has its own runtime: the only reader on
// the client's reactor is the client's, so the wait below is for that reader and no other (with
// the server's connection on the same reactor, its parked reader would end the wait while the
// client's might still be runnable, holding its buffer).
TEST(TcpServerTest, AnIdleConnectionHoldsNoReadBuffer) {
  auto server_rt = StartRuntime(1);
  auto client_rt = StartRuntime(1);
  Hooks hooks;
  const Router router = TestRouter(&hooks);
  for (bool mux : {false, true}) {
    Options options;
    options.mux = mux;
    auto server = StartServer(*server_rt, router, TcpServerOptions{.connection = options});
    ASSERT_NE(server, nullptr);
    absl::Status s = client_rt->Run(0, [&](Reactor& r) -> absl::Status {
      absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, server->address());
      if (!t.ok()) return t.status();
      auto conn = Conn::Create(r.env(), *std::move(t), options);
      if (!conn.ok()) return conn.status();
      for (int i = 0; i < 3; ++i) {
        CallContext ctx(r.env());
        EXPECT_EQ((*conn)->Invoke(ctx, "/t.S/Echo", "idle?").value_or("?"), "idle?");
        // The reply is in: the reader reads once more, finds the socket empty and waits.
        if (absl::Status w = testing::WaitUntilParked(r, "tcp read: waiting for bytes"); !w.ok()) {
          return w;
        }
        EXPECT_EQ((*conn)->manager().read_buffer_bytes(), 0u) << (mux ? "mux" : "upstream");
      }
      (*conn)->Close();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    server->Shutdown(Duration::Seconds(1));
  }
}

TEST(TcpServerTest, ServingAndShuttingDownLeavesNoDescriptorsBehind) {
  const int before = CountOpenFds();
  ASSERT_GT(before, 0);
  {
    auto rt = StartRuntime(2);
    Hooks hooks;
    const Router router = TestRouter(&hooks);
    auto server = StartServer(*rt, router, TcpServerOptions{.migrate_header = true});
    ASSERT_NE(server, nullptr);
    std::unique_ptr<TcpTransport> idle;  // lives on reactor 1
    absl::Status s = rt->Run(1, [&](Reactor& r) -> absl::Status {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(CallOnce(r, server->address(), "/t.S/Echo", "x", Options{},
                             DialOptions{.migrate_header = i % 3 != 0})
                        .ok() == (i % 3 != 0));
      }
      // Open while the server shuts down, and still owing the drpcmigrate header.
      absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, server->address());
      if (!t.ok()) return t.status();
      idle = *std::move(t);
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
    // Until the acceptor has taken it (then shutdown meets it mid-handshake); a bounded spin.
    const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server->stats().connections_accepted < 11 && std::chrono::steady_clock::now() < bound) {
      std::this_thread::yield();
    }
    EXPECT_EQ(server->stats().connections_accepted, 11u);
    server->Shutdown(Duration::Millis(100));
    EXPECT_EQ(server->stats().handshake_failures, 5u) << "4 calls without the header + the idle one";
    server.reset();
    ASSERT_TRUE(rt->Run(1, [&](Reactor&) {
                    idle.reset();
                    return absl::OkStatus();
                  }).ok());
    rt->Stop();
  }
  EXPECT_EQ(CountOpenFds(), before);
}

}  // namespace
}  // namespace drpc::runtime
