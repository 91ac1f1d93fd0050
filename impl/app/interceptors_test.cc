// Interceptors and metrics on the simulator, client and server: order, metadata, short-circuits,
// unary hooks seeing requests and replies, stream wrapping, auth tokens, retries within a budget,
// deadlines from metadata, logging, the metrics counters and the Prometheus text.
#include "impl/app/interceptors.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "impl/app/metrics.h"
#include "impl/app/standard_interceptors.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "sim/testing/harness.h"
#include "sim/testing/client_env.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

using sim::SimContext;

// Runs `body` with a server at "s:1" serving `handler` and a client Conn to it (both modes).
void RunWithServer(const Handler& handler, Options options,
                   const std::function<void(SimContext&, Conn&)>& body) {
  for (bool mux : {false, true}) {
    options.mux = mux;
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      sim::RunOptions run;
      run.trace = {.echo = false, .ring_max_lines = 50};
      sim::RunResult r = sim::RunSeed(
          [&](SimContext& ctx) {
            sim::SimServer server(ctx, "s:1", handler, options);
            ctx.Check(server.Start().ok(), "start");
            absl::StatusOr<std::unique_ptr<Transport>> t = ctx.network().Dial("s:1");
            ctx.Check(t.ok(), "dial");
            absl::StatusOr<std::unique_ptr<Conn>> conn =
                Conn::Create(ctx.env(), *std::move(t), options);
            ctx.Check(conn.ok(), "conn");
            body(ctx, **conn);
            (*conn)->Close();
            server.Stop();
          },
          seed, run);
      ASSERT_TRUE(r.ok()) << (mux ? "mux" : "upstream") << " seed " << seed << ": "
                          << sim::FailureClassName(r.failure) << ": " << r.message << "\n"
                          << r.trace_tail;
    }
  }
}

ClientInterceptor Tag(std::string name, std::vector<std::string>* order) {
  ClientInterceptor i;
  i.name = name;
  i.unary = [name, order](CallContext& ctx, absl::string_view rpc, absl::string_view req,
                          UnaryInvoker next) {
    order->push_back(name);
    ctx.metadata()[name] = "1";
    return next(ctx, rpc, req);
  };
  return i;
}

TEST(InterceptorsTest, ClientChainRunsOutermostFirstAndItsMetadataArrives) {
  const Router echo = testing::EchoRouter();
  RunWithServer(echo, Options{}, [](SimContext& ctx, Conn& raw) {
    std::vector<std::string> order;
    InterceptedConn conn(raw, {Tag("first", &order), Tag("second", &order)});
    CallContext call(ctx.env());
    absl::StatusOr<std::string> md = conn.Invoke(call, "/interop.Echo/Meta", "");
    ctx.Check(md.ok() && *md == "first=1;second=1", absl::StrCat("metadata: ", md.status().ToString()));
    ctx.Check(absl::StrJoin(order, ",") == "first,second", "order");
  });
}

TEST(InterceptorsTest, AClientShortCircuitSendsNothing) {
  const Router echo = testing::EchoRouter();
  int served = 0;
  ServerInterceptor count{.name = "count", .unary = [&](CallContext& ctx, const ServerCallInfo&,
                                                        absl::string_view r, UnaryHandlerNext next) {
                            ++served;
                            return next(ctx, r);
                          }};
  InterceptedHandler handler(echo, {count}, RouterShapes(echo));
  RunWithServer(handler, Options{}, [&](SimContext& ctx, Conn& raw) {
    served = 0;
    ClientInterceptor deny{.name = "deny", .unary = [](CallContext&, absl::string_view,
                                                       absl::string_view, UnaryInvoker)
                                               -> absl::StatusOr<std::string> {
                             return absl::PermissionDeniedError("not today");
                           }};
    InterceptedConn conn(raw, {deny});
    CallContext call(ctx.env());
    ctx.Check(absl::IsPermissionDenied(conn.Invoke(call, "/interop.Echo/Unary", "x").status()),
              "short-circuited");
    ctx.Check(served == 0, "the server never saw it");
    ctx.Check(raw.Invoke(call, "/interop.Echo/Unary", "x").ok() && served == 1, "without it: served");
  });
}

TEST(InterceptorsTest, ServerUnaryHooksSeeTheRequestAndCanChangeTheReply) {
  const Router echo = testing::EchoRouter();
  ServerInterceptor upper{
      .name = "upper",
      .unary = [](CallContext& ctx, const ServerCallInfo& call, absl::string_view request,
                  UnaryHandlerNext next) -> absl::StatusOr<std::string> {
        if (call.rpc != "/interop.Echo/Unary") return next(ctx, request);
        absl::StatusOr<std::string> reply = next(ctx, absl::StrCat(request, "!"));
        if (!reply.ok()) return reply;
        return absl::StrCat("[", *reply, "]");
      }};
  InterceptedHandler handler(echo, {upper}, RouterShapes(echo));
  RunWithServer(handler, Options{}, [](SimContext& ctx, Conn& conn) {
    CallContext call(ctx.env());
    absl::StatusOr<std::string> r = conn.Invoke(call, "/interop.Echo/Unary", "hi");
    ctx.Check(r.ok() && *r == "[hi!]", absl::StrCat("reply: ", r.status().ToString()));
    absl::StatusOr<std::string> failed = conn.Invoke(call, "/interop.Echo/Fail", "x");
    ctx.Check(RemoteErrorCode(failed.status()) == 42u, "handler errors pass through");
    // Streaming RPCs skip unary hooks.
    absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(call, "/interop.Echo/Bidi");
    ctx.Check(s.ok() && (*s)->Send("m").ok(), "bidi");
    absl::StatusOr<std::string> back = (*s)->Recv();
    ctx.Check(back.ok() && *back == "m", "bidi untouched");
    (*s)->Close().IgnoreError();
  });
}

TEST(InterceptorsTest, RequireTokenRefusesUnaryAndStreamCallsBeforeTheHandler) {
  const Router echo = testing::EchoRouter();
  InterceptedHandler handler(
      echo,
      {RequireToken("authorization",
                    [](absl::string_view token) {
                      return token == "Bearer good" ? absl::OkStatus()
                                                    : absl::PermissionDeniedError("bad token");
                    })},
      RouterShapes(echo));
  RunWithServer(handler, Options{}, [](SimContext& ctx, Conn& raw) {
    CallContext call(ctx.env());
    absl::Status missing = raw.Invoke(call, "/interop.Echo/Unary", "x").status();
    ctx.Check(absl::IsUnauthenticated(missing) &&
                  absl::StrContains(missing.message(), "missing authorization"),
              absl::StrCat("missing: ", missing.ToString()));
    InterceptedConn bad(raw, {AttachMetadata("authorization", "Bearer bad")});
    ctx.Check(absl::IsPermissionDenied(bad.Invoke(call, "/interop.Echo/Unary", "x").status()), "bad");
    absl::StatusOr<std::shared_ptr<RpcStream>> s = bad.NewStream(call, "/interop.Echo/Bidi");
    ctx.Check(s.ok(), "stream opens");
    ctx.Check(absl::IsPermissionDenied((*s)->Recv().status()), "stream refused by the server");
    InterceptedConn good(raw, {AttachMetadata("authorization", "Bearer good")});
    ctx.Check(good.Invoke(call, "/interop.Echo/Unary", "x").ok(), "good token");
  });
}

TEST(InterceptorsTest, StreamHooksWrapStreamsOnBothSides) {
  const Router echo = testing::EchoRouter();
  int server_sent = 0;
  class Counting final : public ForwardingStream {
   public:
    Counting(RpcStream& s, int* sent) : ForwardingStream(std::shared_ptr<RpcStream>(
                                            std::shared_ptr<void>(), &s)), sent_(sent) {}
    absl::Status Send(absl::string_view m) override {
      ++*sent_;
      return ForwardingStream::Send(m);
    }

   private:
    int* sent_;
  };
  ServerInterceptor wrap{.name = "wrap", .stream = [&](CallContext& ctx, const ServerCallInfo&,
                                                       RpcStream& s, StreamHandlerNext next) {
                           Counting counting(s, &server_sent);
                           return next(ctx, counting);
                         }};
  InterceptedHandler handler(echo, {wrap}, RouterShapes(echo));
  RunWithServer(handler, Options{}, [&](SimContext& ctx, Conn& raw) {
    server_sent = 0;
    CallContext call(ctx.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = raw.NewStream(call, "/interop.Echo/ServerStream");
    ctx.Check(s.ok() && (*s)->SendLast("3").ok(), "open");
    int got = 0;
    while ((*s)->Recv().ok()) ++got;
    ctx.Check(got == 3 && server_sent == 3, absl::StrCat("got ", got, " sent ", server_sent));
  });
}

// A ClientConn that fails with `failure` the first `failures` times.
class Flaky final : public ClientConn {
 public:
  Flaky(Env& env, int failures, absl::Status failure)
      : failures_(failures), failure_(std::move(failure)), closed_(env) {}
  absl::StatusOr<std::string> Invoke(CallContext&, absl::string_view,
                                     absl::string_view req) override {
    ++attempts;
    if (failures_-- > 0) return failure_;
    return std::string(req);
  }
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext&, absl::string_view) override {
    return absl::UnimplementedError("no streams");
  }
  void Close() override {}
  Signal& closed() override { return closed_; }
  int attempts = 0;

 private:
  int failures_;
  absl::Status failure_;
  Signal closed_;
};

void RunSimOnce(const std::function<void(SimContext&)>& body) {
  sim::RunResult r = sim::RunSeed(body, 1, sim::RunOptions{});
  ASSERT_TRUE(r.ok()) << sim::FailureClassName(r.failure) << ": " << r.message;
}

TEST(InterceptorsTest, RetriesIdempotentUnaryCallsOnlyAndOnlyForConnectionFailures) {
  RunSimOnce([](SimContext& ctx) {
    RetryPolicy policy;
    policy.idempotent = [](absl::string_view rpc) { return absl::EndsWith(rpc, "/Get"); };
    policy.max_attempts = 3;
    CallContext call(ctx.env());
    Flaky lost(ctx.env(), 2, ClosedError("connection closed"));
    InterceptedConn retried(lost, {RetryIdempotentUnary(policy)});
    const Instant start = ctx.now();
    ctx.Check(retried.Invoke(call, "/kv.Kv/Get", "k").ok() && lost.attempts == 3, "two retries");
    ctx.Check(ctx.now() - start >= Duration::Millis(20), "with a backoff between attempts");
    Flaky put(ctx.env(), 1, ClosedError("connection closed"));
    InterceptedConn not_idempotent(put, {RetryIdempotentUnary(policy)});
    ctx.Check(!not_idempotent.Invoke(call, "/kv.Kv/Put", "k").ok() && put.attempts == 1,
              "never retries a non-idempotent call");
    Flaky remote(ctx.env(), 1, RemoteErrorStatus(14, "unavailable, says the handler"));
    InterceptedConn app_error(remote, {RetryIdempotentUnary(policy)});
    ctx.Check(!app_error.Invoke(call, "/kv.Kv/Get", "k").ok() && remote.attempts == 1,
              "a remote error is the application's answer, not retried");
  });
}

TEST(InterceptorsTest, TheRetryBudgetStopsRetryStorms) {
  RunSimOnce([](SimContext& ctx) {
    RetryBudget budget(4, 100);
    RetryPolicy policy;
    policy.idempotent = [](absl::string_view) { return true; };
    policy.max_attempts = 10;
    policy.budget = &budget;
    Flaky down(ctx.env(), 1000, absl::UnavailableError("down"));
    InterceptedConn conn(down, {RetryIdempotentUnary(policy)});
    CallContext call(ctx.env());
    for (int i = 0; i < 5; ++i) ctx.Check(!conn.Invoke(call, "/a.B/C", "").ok(), "down");
    // 4 tokens: retries only while more than 2 are left, so 2 failures exhaust it; later calls
    // make one attempt each.
    ctx.Check(down.attempts <= 2 + 5, absl::StrCat(down.attempts, " attempts for 5 calls"));
  });
}

TEST(InterceptorsTest, TheDeadlineTravelsInMetadataAndEndsTheHandler) {
  const Router echo = testing::EchoRouter();
  InterceptedHandler handler(echo, {DeadlineFromMetadata(Duration::Millis(30))},
                             RouterShapes(echo));
  RunWithServer(handler, Options{}, [](SimContext& ctx, Conn& raw) {
    InterceptedConn conn(raw, {SendDeadlineInMetadata()});
    CallContext call(ctx.env());
    call.SetTimeout(Duration::Seconds(5));
    const Instant start = ctx.now();
    // Slow waits for its context: the server's copy of the deadline (capped at 30ms) ends it.
    absl::Status s = conn.Invoke(call, "/interop.Echo/Slow", "").status();
    ctx.Check(RemoteErrorCode(s) == static_cast<uint64_t>(absl::StatusCode::kDeadlineExceeded),
              absl::StrCat("the handler's deadline, got ", s.ToString()));
    ctx.Check(ctx.now() - start < Duration::Seconds(1), "long before the client's own");
    CallContext bad(ctx.env());
    bad.metadata()[std::string(kTimeoutMetadataKey)] = "soon";
    s = raw.Invoke(bad, "/interop.Echo/Unary", "").status();
    ctx.Check(RemoteErrorCode(s) == static_cast<uint64_t>(absl::StatusCode::kInvalidArgument),
              "a malformed timeout is refused");
  });
}

TEST(InterceptorsTest, LoggingSeesEveryCallEndOnce) {
  const Router echo = testing::EchoRouter();
  std::vector<std::string> lines;
  ClientServerInterceptors logging =
      LoggingInterceptor([&](const CallLog& l) { lines.push_back(FormatCallLog(l)); });
  InterceptedHandler handler(echo, {logging.server}, RouterShapes(echo));
  RunWithServer(handler, Options{}, [&](SimContext& ctx, Conn& raw) {
    lines.clear();
    InterceptedConn conn(raw, {logging.client});
    CallContext call(ctx.env());
    ctx.Check(conn.Invoke(call, "/interop.Echo/Unary", "x").ok(), "unary");
    absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(call, "/interop.Echo/ServerStream");
    ctx.Check(s.ok() && (*s)->SendLast("2").ok(), "stream");
    while ((*s)->Recv().ok()) {
    }
    s->reset();
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(lines.size() == 4, absl::StrCat("four lines: ", absl::StrJoin(lines, " | ")));
    int client_unary = 0, server_stream = 0;
    for (const std::string& l : lines) {
      client_unary += absl::StartsWith(l, "client /interop.Echo/Unary unary OK");
      server_stream += absl::StartsWith(l, "server /interop.Echo/ServerStream stream OK");
    }
    ctx.Check(client_unary == 1 && server_stream == 1, absl::StrJoin(lines, " | "));
  });
}

TEST(MetricsTest, InterceptorsTransportsAndTheObserverCountWhatHappened) {
  const Router echo = testing::EchoRouter();
  MetricsRegistry metrics;
  MetricsObserver observer(metrics, Side::kClient);
  InterceptedHandler handler(echo, {ServerMetricsInterceptor(metrics)}, RouterShapes(echo));
  Options options;
  options.recv_queue_max_count = 1;
  options.observer = &observer;
  RunWithServer(handler, options, [&](SimContext& ctx, Conn& raw) {
    InterceptedConn conn(raw, {ClientMetricsInterceptor(metrics)});
    CallContext call(ctx.env());
    ctx.Check(conn.Invoke(call, "/interop.Echo/Unary", "x").ok(), "ok");
    ctx.Check(!conn.Invoke(call, "/interop.Echo/Fail", "x").ok(), "fails");
    // The client reads late: its queue of one message is full, the reader waits.
    absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(call, "/interop.Echo/ServerStream");
    ctx.Check(s.ok() && (*s)->SendLast("4").ok(), "stream");
    SleepFor(ctx.env(), Duration::Millis(5));
    while ((*s)->Recv().ok()) {
    }
    s->reset();
    SleepFor(ctx.env(), Duration::Millis(1));
  });
  // Six runs (two modes x three seeds), each: 3 client streams (1 failed), the same on the server.
  EXPECT_EQ(metrics.Get(Side::kClient, Metric::kStreamsOpened), 18);
  EXPECT_EQ(metrics.Get(Side::kClient, Metric::kStreamsFailed), 6);
  EXPECT_EQ(metrics.Get(Side::kClient, Metric::kStreamsClosed), 12);
  EXPECT_EQ(metrics.Get(Side::kClient, Metric::kStreamsActive), 0);
  EXPECT_EQ(metrics.Get(Side::kServer, Metric::kStreamsOpened), 18);
  EXPECT_EQ(metrics.Get(Side::kServer, Metric::kStreamsFailed), 6);
  EXPECT_GE(metrics.Get(Side::kClient, Metric::kRecvQueueBlocked), 6);
  const std::string text = RenderPrometheus(metrics.Read());
  EXPECT_TRUE(absl::StrContains(text, "# TYPE drpc_streams_opened_total counter\n"
                                      "drpc_streams_opened_total{side=\"client\"} 18\n"
                                      "drpc_streams_opened_total{side=\"server\"} 18\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "# TYPE drpc_connections_active gauge")) << text;
  EXPECT_TRUE(absl::StrContains(text, "drpc_write_blocked_seconds_total{side=\"client\"} 0.000000000"))
      << text;
}

TEST(MetricsTest, MeteredTransportCountsBytesAndConnections) {
  MetricsRegistry metrics;
  RunSimOnce([&](SimContext& ctx) {
    auto [a, b] = ctx.network().Pipe("p");
    {
      MeteredTransport ma(ctx.env(), std::move(a), metrics, Side::kClient);
      MeteredTransport mb(ctx.env(), std::move(b), metrics, Side::kServer);
      ctx.Check(metrics.Get(Side::kClient, Metric::kConnectionsActive) == 1, "open");
      const absl::string_view pieces[] = {"ab", "", "cde"};
      ctx.Check(ma.Write("hello").ok() && ma.WriteV(pieces).ok(), "write");
      char buf[16];
      size_t got = 0;
      while (got < 10) {
        absl::StatusOr<size_t> n = mb.Read(buf, sizeof(buf));
        ctx.Check(n.ok(), "read");
        got += *n;
      }
      ma.Close();
      mb.Close();
    }
    ctx.Check(metrics.Get(Side::kClient, Metric::kBytesWritten) == 10, "bytes written");
    ctx.Check(metrics.Get(Side::kServer, Metric::kBytesRead) == 10, "bytes read");
    ctx.Check(metrics.Get(Side::kClient, Metric::kConnectionsActive) == 0 &&
                  metrics.Get(Side::kClient, Metric::kConnectionsClosed) == 1,
              "closed");
  });
}

}  // namespace
}  // namespace drpc
