// A TcpServer whose reactor runs out of fiber stacks refuses calls with a clear error and stays
// up (issue 13 finding 1: 32 connections x 1,024 idle mux calls ran the kernel out of maps and the
// server aborted); and what an idle call costs in kernel maps.
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/runtime/tcp_server.h"
#include "impl/runtime/test_util.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

using testing::StartRuntime;

size_t KernelMapCount() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return 0;
  size_t lines = 0;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) lines += c == '\n';
  std::fclose(f);
  return lines;
}

// The server's calls: "/x.X/Hold" (bidi) waits until the test releases it; "/x.X/Echo" echoes.
// Both live on reactor 0 of the server's runtime.
struct Server {
  std::atomic<int> holding{0};
  std::unique_ptr<Signal> release;  // created and set on the server's reactor
  Router router;
  std::unique_ptr<TcpServer> tcp;

  Server(Runtime& rt, Options options) {
    DRPC_CHECK_OK(rt.Run(0, [this](Reactor& r) -> absl::Status {
      release = std::make_unique<Signal>(r.env());
      return absl::OkStatus();
    }));
    router.Bidi("/x.X/Hold", [this](CallContext& ctx, RpcStream&) -> absl::Status {
      ++holding;
      const Signal::CallbackId id =
          ctx.done_signal().OnSet([this](const absl::Status&) { release->Set(); });
      release->Wait("test: held call");
      ctx.done_signal().RemoveCallback(id);
      --holding;
      return absl::OkStatus();
    }).IgnoreError();
    router.Unary("/x.X/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
      return std::string(req);
    }).IgnoreError();
    TcpServerOptions o;
    o.connection = options;
    absl::StatusOr<std::unique_ptr<TcpServer>> s = TcpServer::Start(rt, router, o);
    DRPC_CHECK_OK(s.status());
    tcp = *std::move(s);
  }
  void Release(Runtime& rt) {
    DRPC_CHECK_OK(rt.Run(0, [this](Reactor&) -> absl::Status {
      release->Set();
      return absl::OkStatus();
    }));
  }
  // Destroys the Signal on its reactor once the server is down.
  void Stop(Runtime& rt) {
    tcp->Shutdown(Duration::Seconds(5));
    DRPC_CHECK_OK(rt.Run(0, [this](Reactor&) -> absl::Status {
      release.reset();
      return absl::OkStatus();
    }));
  }
};

// A client connection with held calls, living on reactor 0 of the client runtime.
struct Client {
  std::unique_ptr<Conn> conn;
  std::unique_ptr<CallContext> ctx;
  std::vector<std::shared_ptr<Stream>> held;
};

Options Mux() {
  Options o;
  o.mux = true;
  return o;
}

absl::Status Connect(Runtime& rt, const std::string& address, Client& c) {
  return rt.Run(0, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, address);
    if (!t.ok()) return t.status();
    absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t), Mux());
    if (!conn.ok()) return conn.status();
    c.conn = *std::move(conn);
    c.ctx = std::make_unique<CallContext>(r.env());
    return absl::OkStatus();
  });
}

absl::Status OpenHeld(Runtime& rt, Client& c, int n) {
  return rt.Run(0, [&](Reactor&) -> absl::Status {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<std::shared_ptr<Stream>> s = c.conn->OpenStream(*c.ctx, "/x.X/Hold");
      if (!s.ok()) return s.status();
      c.held.push_back(*std::move(s));
    }
    return absl::OkStatus();
  });
}

// Streams the server refused (their Error arrived), each checked to carry `why` and to name the
// budget that was spent.
absl::StatusOr<int> CountRefused(Runtime& rt, Client& c, absl::string_view why) {
  return rt.Run(0, [&](Reactor&) -> absl::StatusOr<int> {
    int refused = 0;
    for (const std::shared_ptr<Stream>& s : c.held) {
      if (!s->terminated()) continue;
      absl::StatusOr<std::string> r = s->Recv();
      if (!absl::IsResourceExhausted(r.status()) || !absl::StrContains(r.status().message(), why) ||
          !absl::StrContains(r.status().message(), "out of fiber stacks")) {
        return absl::InternalError(absl::StrCat("stream ", s->id(), ": ", r.status().ToString()));
      }
      ++refused;
    }
    return refused;
  });
}

absl::StatusOr<std::string> Echo(Runtime& rt, Client& c, absl::string_view text) {
  return rt.Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
    CallContext ctx(r.env());
    ctx.SetTimeout(Duration::Seconds(10));
    return c.conn->Invoke(ctx, "/x.X/Echo", text);
  });
}

void Close(Runtime& rt, Client& c) {
  DRPC_CHECK_OK(rt.Run(0, [&](Reactor&) -> absl::Status {
    for (const std::shared_ptr<Stream>& s : c.held) s->Close().IgnoreError();
    c.held.clear();
    if (c.conn != nullptr) c.conn->Close();
    c.conn.reset();
    c.ctx.reset();
    return absl::OkStatus();
  }));
}

// Waits until the server has dealt with `calls` held calls (running or refused); a generous
// bound only turns a hang into a failure.
void WaitForServer(Runtime& client_rt, Server& server, Client& c, int calls, absl::string_view why) {
  for (int i = 0; i < 3000; ++i) {
    absl::StatusOr<int> refused = CountRefused(client_rt, c, why);
    ASSERT_TRUE(refused.ok()) << refused.status();
    if (server.holding.load() + *refused == calls) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "the server never answered every call: " << server.holding.load() << " held";
}

TEST(ExhaustionTest, ServerOutOfFiberStacksRefusesCallsAndStaysUp) {
  auto server_rt = StartRuntime(1, ReactorOptions{.stack_count_max = 32});
  auto client_rt = StartRuntime(1);
  Server server(*server_rt, Mux());
  Client a;
  ASSERT_TRUE(Connect(*client_rt, server.tcp->address(), a).ok());
  constexpr int kCalls = 64;
  ASSERT_TRUE(OpenHeld(*client_rt, a, kCalls).ok());
  const absl::string_view why = "server busy: no fiber for the call";
  WaitForServer(*client_rt, server, a, kCalls, why);
  absl::StatusOr<int> refused = CountRefused(*client_rt, a, why);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GT(*refused, 0);
  EXPECT_GT(server.holding.load(), 0);

  // A new connection while every stack is taken is turned away (no fiber to serve it), not a
  // crash.
  Client b;
  absl::Status connected = Connect(*client_rt, server.tcp->address(), b);
  if (connected.ok()) {
    EXPECT_FALSE(Echo(*client_rt, b, "while exhausted").ok());
  }
  Close(*client_rt, b);

  // The held calls end: the first connection and new ones are served again.
  server.Release(*server_rt);
  Close(*client_rt, a);
  Client c;
  ASSERT_TRUE(Connect(*client_rt, server.tcp->address(), c).ok());
  EXPECT_EQ(Echo(*client_rt, c, "after").value_or("?"), "after");
  Close(*client_rt, c);
  server.Stop(*server_rt);
}

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

// Not a benchmark: counts the kernel maps (/proc/self/maps lines) that 2,000 idle mux calls add
// to a process serving them. Each call holds a handler fiber; with page-table guards its stack
// costs 1/64 of a map (a slab of 64 stacks is one map), with mprotect'ed guards two.
TEST(ExhaustionTest, IdleMuxCallsCostAFractionOfAKernelMapEach) {
  auto server_rt = StartRuntime(1);
  auto client_rt = StartRuntime(1);
  Server server(*server_rt, Mux());
  constexpr int kConns = 4;
  constexpr int kCallsPerConn = 500;
  std::vector<Client> clients(kConns);
  for (Client& c : clients) ASSERT_TRUE(Connect(*client_rt, server.tcp->address(), c).ok());
  const size_t before = KernelMapCount();
  for (Client& c : clients) ASSERT_TRUE(OpenHeld(*client_rt, c, kCallsPerConn).ok());
  for (int i = 0; i < 3000 && server.holding.load() < kConns * kCallsPerConn; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server.holding.load(), kConns * kCallsPerConn);
  const size_t after = KernelMapCount();
  absl::StatusOr<Reactor::Stats> stats =
      server_rt->Run(0, [](Reactor& r) -> absl::StatusOr<Reactor::Stats> { return r.stats(); });
  ASSERT_TRUE(stats.ok());
  const double per_call = static_cast<double>(after - before) / (kConns * kCallsPerConn);
  std::printf("%d idle mux calls: %zu -> %zu kernel maps, %.3f maps per call (%s guards; the "
              "server's stacks: %zu maps)\n",
              kConns * kCallsPerConn, before, after, per_call,
              stats->page_table_guards ? "page-table" : "mprotect", stats->stack_maps);
  RecordProperty("maps_per_idle_call", absl::StrCat(per_call));
  // The server's own stacks, which the guard mode decides, whatever else maps memory.
  const double stack_maps_per_call =
      static_cast<double>(stats->stack_maps) / (kConns * kCallsPerConn);
  EXPECT_LT(stack_maps_per_call, stats->page_table_guards ? 0.1 : 2.1);
  if (!kThreadSanitizer) {
    // ThreadSanitizer maps memory for its own state of every fiber (about 2 maps per fiber, on
    // the client's side too), so only the stacks are counted under it.
    EXPECT_LT(per_call, stats->page_table_guards ? 0.1 : 2.1);
  }
  server.Release(*server_rt);
  for (Client& c : clients) Close(*client_rt, c);
  server.Stop(*server_rt);
}

}  // namespace
}  // namespace drpc::runtime
