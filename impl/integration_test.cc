// docs/protocol.md §12.6 (Go's internal/integration suite, which runs with SoftCancel) on the simulator, in
// both modes, plus graceful server shutdown.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "proto/metadata.h"

namespace drpc {
namespace {

using testing::Pair;
using testing::RunPair;

class IntegrationTest : public ::testing::TestWithParam<bool> {
 protected:
  Options Opts() const {
    Options o;
    o.mux = GetParam();
    o.soft_cancel = true;
    return o;
  }
  void Run(std::function<void(Pair&, sim::SimContext&)> body, int seeds = 5,
           const Router* router = nullptr) {
    for (int seed = 1; seed <= seeds; ++seed) {
      sim::NetworkOptions net;
      net.link.segment_max_bytes = 1 + seed % 5;
      net.link.cut_reads = true;
      sim::RunResult r = RunPair(Opts(), Opts(), body, static_cast<uint64_t>(seed), router,
                                 sim::FaultPlan::None(), net);
      ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                          << r.message << "\n" << r.trace_tail;
    }
  }
};

// TestConcurrent: 1000 concurrent unary calls on one connection all succeed (serialised in
// upstream mode, concurrent in mux mode).
TEST_P(IntegrationTest, ManyConcurrentUnaryCallsOnOneConnectionAllSucceed) {
  Run([](Pair& p, sim::SimContext& ctx) {
    WaitGroup wg(p.env());
    int ok = 0;
    for (int i = 0; i < 1000; ++i) {
      wg.Add();
      DRPC_CHECK_OK(p.env().scheduler().Spawn(absl::StrCat("call ", i), [&, i] {
        CallContext call(p.env());
        absl::StatusOr<std::string> r =
            p.conn().Invoke(call, "/interop.Echo/Unary", absl::StrCat(i));
        ok += r.ok() && *r == absl::StrCat(i);
        wg.Done();
      }));
    }
    wg.Wait();
    ctx.Check(ok == 1000, absl::StrCat(ok, " of 1000 calls succeeded"));
  }, 2);
}

// TestCancel (b): cancelling after the call finished leaves the connection usable.
TEST_P(IntegrationTest, CancellingAfterTheCallFinishedKeepsTheConnection) {
  Run([](Pair& p, sim::SimContext& ctx) {
    for (int i = 0; i < 20; ++i) {
      CallContext call(p.env());
      ctx.Check(p.conn().Invoke(call, "/interop.Echo/Unary", "x").ok(), "call");
      call.Cancel();
    }
    ctx.Check(!p.conn().closed().IsSet(), "connection closed");
  });
}

// TestCancel (c): cancelling in the middle of a stream: Send eventually returns EOF, Recv Canceled.
TEST_P(IntegrationTest, CancellingAStreamMakesSendEofAndRecvCanceled) {
  Run([](Pair& p, sim::SimContext& ctx) {
    CallContext call(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/interop.Echo/Bidi");
    ctx.Check((*s)->Send("a").ok() && (*s)->Recv().ok(), "echo");
    call.Cancel();
    absl::Status send;
    for (int i = 0; i < 100 && send.ok(); ++i) send = (*s)->Send("b");
    ctx.Check(IsEof(send), send.ToString());
    ctx.Check(absl::IsCancelled((*s)->Recv().status()), "Recv after cancel");
  });
}

// TestCancellationPropagation_Unitary / _Stream: the client's cancel reaches the handler.
TEST_P(IntegrationTest, ClientCancelReachesTheServerHandler) {
  int handlers_cancelled = 0;
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi("/t.T/Wait", [&](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("handler waiting for cancellation");
    if (absl::IsCancelled(ctx.err())) ++handlers_cancelled;
    return ctx.err();
  }));
  Run([&](Pair& p, sim::SimContext& ctx) {
    handlers_cancelled = 0;
    {
      CallContext call(p.env());
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/t.T/Wait");
      ctx.Check((*s)->Send("start").ok(), "send");  // flushes the corked Invoke
      SleepFor(p.env(), Duration::Millis(1));
      call.Cancel();
      ctx.Check(absl::IsCancelled((*s)->Recv().status()), "Recv after cancel");
    }
    CallContext unary(p.env());
    Signal done(p.env());
    absl::StatusOr<std::string> slow;
    DRPC_CHECK_OK(p.env().scheduler().Spawn("unary", [&] {
      slow = p.conn().Invoke(unary, "/interop.Echo/Slow", "x");
      done.Set();
    }));
    SleepFor(p.env(), Duration::Millis(1));
    unary.Cancel();
    done.Wait("unary");
    ctx.Check(absl::IsCancelled(slow.status()), slow.status().ToString());
    SleepFor(p.env(), Duration::Millis(5));
    ctx.Check(handlers_cancelled == 1, absl::StrCat(handlers_cancelled, " handlers saw the cancel"));
  }, 5, &router);
}

// TestCancelWhileWriteBlocked: a cancel while the transport write blocks does not hang Send.
TEST_P(IntegrationTest, CancelWhileTheWriteIsBlockedReturns) {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi("/t.T/NeverRead", [](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("handler not reading");
    return ctx.err();
  }));
  Run([](Pair& p, sim::SimContext& ctx) {
    CallContext call(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/t.T/NeverRead");
    absl::Status send;
    Signal done(p.env());
    DRPC_CHECK_OK(p.env().scheduler().Spawn("sender", [&] {
      for (int i = 0; i < 1000 && send.ok(); ++i) send = (*s)->Send(std::string(64 * 1024, 'x'));
      done.Set();
    }));
    SleepFor(p.env(), Duration::Millis(5));
    call.Cancel();
    ctx.Check(done.Wait("sender", p.env().clock().Now() + Duration::Seconds(5)), "Send hung");
    ctx.Check(!send.ok(), "sends never failed");
  }, 3, &router);
}

// TestCancelRepeatedPooled: many calls, each context cancelled after completion, one connection.
TEST_P(IntegrationTest, RepeatedCancelledCallsReuseOneConnection) {
  Run([](Pair& p, sim::SimContext& ctx) {
    for (int i = 0; i < 300; ++i) {
      CallContext call(p.env());
      absl::StatusOr<std::shared_ptr<RpcStream>> s =
          p.conn().NewStream(call, "/interop.Echo/ClientStream");
      ctx.Check(s.ok() && (*s)->SendLast("abc").ok(), "send");
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == "3", r.status().ToString());
      call.Cancel();
    }
    ctx.Check(!p.conn().closed().IsSet(), "the connection did not survive");
  }, 2);
}

// TestError: codes 2..19 arrive intact; TestError_Message: the exact text.
TEST_P(IntegrationTest, ErrorCodesAndTextsArriveIntact) {
  Router router;
  DRPC_CHECK_OK(router.Unary(
      "/t.T/Code", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
        uint64_t code = static_cast<uint64_t>(std::stoi(std::string(req)));
        return WithRemoteErrorCode(absl::InternalError(absl::StrCat("error ", code)), code);
      }));
  Run([](Pair& p, sim::SimContext& ctx) {
    for (int code = 2; code <= 19; ++code) {
      CallContext call(p.env());
      absl::StatusOr<std::string> r = p.conn().Invoke(call, "/t.T/Code", absl::StrCat(code));
      ctx.Check(RemoteErrorCode(r.status()) == static_cast<uint64_t>(code) &&
                    r.status().message() == absl::StrCat("error ", code),
                r.status().ToString());
    }
  }, 2, &router);
}

// TestLarge: bidi with 100 messages each way, up to 128 KiB, sent while receiving.
TEST_P(IntegrationTest, LargeMessagesBothWaysConcurrently) {
  Run([](Pair& p, sim::SimContext& ctx) {
    CallContext call(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/interop.Echo/Bidi");
    auto message = [](int i) {
      return std::string(static_cast<size_t>((i * 7919) % (128 * 1024)), static_cast<char>('a' + i % 26));
    };
    Signal sent(p.env());
    DRPC_CHECK_OK(p.env().scheduler().Spawn("sender", [&] {
      for (int i = 0; i < 100; ++i) ctx.Check((*s)->Send(message(i)).ok(), "send");
      ctx.Check((*s)->CloseSend().ok(), "close send");
      sent.Set();
    }));
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == message(i), absl::StrCat("message ", i, ": ", r.status().ToString()));
    }
    ctx.Check(IsEof((*s)->Recv().status()), "EOF");
    sent.Wait("sender");
  }, 2);
}

// TestTransport_ErrorCausesCancel: when the transport dies, the handler's Recv sees Canceled and
// the client sees "closed".
TEST_P(IntegrationTest, TransportLossCancelsTheHandlerAndFailsTheClient) {
  absl::Status handler_recv;
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi("/t.T/RecvTwice", [&](CallContext&, RpcStream& s) -> absl::Status {
    if (absl::Status first = s.Recv().status(); !first.ok()) return first;
    handler_recv = s.Recv().status();  // blocks until the connection dies
    return handler_recv;
  }));
  Run([&](Pair& p, sim::SimContext& ctx) {
    handler_recv = absl::OkStatus();
    CallContext call(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/t.T/RecvTwice");
    ctx.Check((*s)->Send("first").ok(), "send");
    SleepFor(p.env(), Duration::Millis(1));
    p.conn().Close();
    SleepFor(p.env(), Duration::Millis(5));
    ctx.Check(IsClosed((*s)->Recv().status()), "client Recv after its connection closed");
    ctx.Check(absl::IsCancelled(handler_recv), absl::StrCat("handler Recv: ", handler_recv.ToString()));
  }, 3, &router);
}

// A connection reuses a finished call's decoded metadata for the next call's: each handler still
// sees exactly its own call's entries, whatever the previous call sent (a prefix of its keys,
// other keys, none, long values, more entries than the spare keeps).
TEST_P(IntegrationTest, EachHandlerSeesOnlyItsOwnCallsMetadataWhenCallsFollowEachOther) {
  Router router;
  DRPC_CHECK_OK(router.Unary(
      "/t.T/Meta", [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
        return absl::StrJoin(ctx.incoming_metadata(), ";", absl::PairFormatter("="));
      }));
  Run([](Pair& p, sim::SimContext& ctx) {
    std::vector<Metadata> sent = {{{"a", "1"}, {"b", "2"}, {"c", "3"}},
                                  {{"a", "x"}},
                                  {{"b", "x"}},
                                  {},
                                  {{"a", std::string(300, 'v')}, {"zz", "last"}},
                                  {},
                                  {{"a", "1"}, {"b", "2"}, {"c", "3"}}};
    Metadata many;
    for (int i = 0; i < 12; ++i) many[absl::StrCat("k", i)] = std::string(100, 'a' + i);
    sent.insert(sent.begin() + 5, many);
    for (size_t i = 0; i < sent.size(); ++i) {
      CallContext call(p.env());
      call.metadata() = sent[i];
      absl::StatusOr<std::string> r = p.conn().Invoke(call, "/t.T/Meta", "");
      const std::string want = absl::StrJoin(sent[i], ";", absl::PairFormatter("="));
      ctx.Check(r.ok() && *r == want, absl::StrCat("call ", i, ": ", r.ok() ? *r : r.status().ToString()));
    }
  }, 3, &router);
}

// Graceful shutdown: running calls finish before the deadline; new calls are refused.
TEST_P(IntegrationTest, ShutdownLetsRunningCallsFinishAndRefusesNewOnes) {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Unary(
      "/t.T/Sleep", [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
        SleepFor(ctx.env(), Duration::Millis(20));
        return std::string("slept");
      }));
  Run([](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    absl::StatusOr<std::string> running;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("running call", [&] {
      CallContext call(env);
      running = p.conn().Invoke(call, "/t.T/Sleep", "");
      done.Set();
    }));
    SleepFor(env, Duration::Millis(5));
    Signal shut(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("shutdown", [&] {
      p.server().Shutdown(env.clock().Now() + Duration::Seconds(1));
      shut.Set();
    }));
    done.Wait("running call");
    ctx.Check(running.ok() && *running == "slept", running.status().ToString());
    shut.Wait("shutdown");
    CallContext late(env);
    ctx.Check(!p.conn().Invoke(late, "/interop.Echo/Unary", "x").ok(),
              "a call after shutdown worked");
  }, 3, &router);
}

// ...and at the deadline, calls still running are cancelled.
TEST_P(IntegrationTest, ShutdownCancelsCallsStillRunningAtTheDeadline) {
  Run([](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    absl::StatusOr<std::string> slow;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("slow call", [&] {
      CallContext call(env);
      slow = p.conn().Invoke(call, "/interop.Echo/Slow", "x");
      done.Set();
    }));
    SleepFor(env, Duration::Millis(1));
    const Instant start = env.clock().Now();
    p.server().Shutdown(start + Duration::Millis(30));
    ctx.Check(env.clock().Now() - start >= Duration::Millis(30), "shutdown did not wait");
    done.Wait("slow call");
    ctx.Check(!slow.ok(), "the slow call survived shutdown");
  });
}

// TestError_Context: a handler that fails with its context's error (Canceled, DeadlineExceeded)
// is reported to the client with text containing "context".
TEST_P(IntegrationTest, ContextErrorsOfAHandlerArriveAsTextContainingContext) {
  Router router;
  DRPC_CHECK_OK(router.Unary("/t.T/Canceled",
                             [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
                               return CanceledError();
                             }));
  DRPC_CHECK_OK(router.Unary("/t.T/Deadline",
                             [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
                               return DeadlineError();
                             }));
  Run([](Pair& p, sim::SimContext& ctx) {
    for (const char* rpc : {"/t.T/Canceled", "/t.T/Deadline"}) {
      CallContext call(p.env());
      absl::StatusOr<std::string> r = p.conn().Invoke(call, rpc, "");
      ctx.Check(!r.ok() && absl::StrContains(r.status().message(), "context") &&
                    !p.conn().closed().IsSet(),
                absl::StrCat(rpc, ": ", r.status().ToString()));
    }
  }, 2, &router);
}

// TestStream_ContextCancel: when the client closes the stream, the handler's context and the
// contexts derived from it are done.
TEST_P(IntegrationTest, DerivedContextsOfAHandlerAreDoneAfterClose) {
  int released = 0;
  Router router;
  DRPC_CHECK_OK(
      router.Bidi("/t.T/Derive", [&released](CallContext& ctx, RpcStream& s) -> absl::Status {
        if (absl::Status st = s.Recv().status(); !st.ok()) return st;
        CallContext child(ctx.env(), ctx);
        CallContext grandchild(ctx.env(), child);
        grandchild.done_signal().Wait("handler: waiting for the derived context");
        released += ctx.done() && child.done() ? 1 : 0;
        return grandchild.err();
      }));
  Run([&released](Pair& p, sim::SimContext& ctx) {
    released = 0;
    CallContext call(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/t.T/Derive");
    ctx.Check((*s)->Send("x").ok(), "send");
    SleepFor(p.env(), Duration::Millis(1));
    ctx.Check((*s)->Close().ok(), "close");
    SleepFor(p.env(), Duration::Millis(5));
    ctx.Check(released == 1, "the derived contexts were not done after Close");
  }, 3, &router);
}

// TestTransport_Blocked: a call whose transport write blocks (the peer reads nothing) ends with
// exactly Canceled when its context is cancelled — not a transport or EOF error.
TEST_P(IntegrationTest, BlockedTransportCancelYieldsExactlyCanceled) {
  Options o = Opts();
  sim::NetworkOptions net;
  net.link.buffer_bytes = 4096;
  sim::RunResult r = testing::RunClient(o, [](testing::ClientSide& c) {
    SleepFor(c.sim.env(), Duration::Millis(1));
    c.server.PauseReading();
    CallContext call(c.sim.env());
    absl::StatusOr<std::string> reply;
    Signal done(c.sim.env());
    DRPC_CHECK_OK(c.sim.env().scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(call, "/interop.Echo/Unary", std::string(100 * 1024, 'u'));
      done.Set();
    }));
    SleepFor(c.sim.env(), Duration::Millis(5));
    c.sim.Check(!done.IsSet(), "the call is not blocked");
    call.Cancel();
    done.Wait("caller");
    c.sim.Check(reply.status().code() == absl::StatusCode::kCancelled &&
                    reply.status().message() == "context canceled",
                reply.status().ToString());
  }, 1, net);
  ASSERT_TRUE(r.ok()) << sim::FailureClassName(r.failure) << ": " << r.message << "\n"
                      << r.trace_tail;
}

// Large messages: the frames' data goes from the transport straight into the message being
// assembled (no copy through the frame buffer), in any segmentation the network chooses, with
// small messages in between; every byte arrives where it belongs.
TEST_P(IntegrationTest, LargeFramesAreReadStraightIntoTheirMessages) {
  auto body = [](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
    ctx.Check(s.ok(), s.status().ToString());
    std::string got;
    for (int i = 0; i < 6; ++i) {
      std::string sent(i % 2 == 0 ? 300 * 1024 + 7 * i : 10 + i, static_cast<char>('a' + i));
      for (size_t at = 0; at < sent.size(); at += 4099) sent[at] = static_cast<char>(at % 251);
      ctx.Check((*s)->Send(sent).ok(), "send");
      ctx.Check((*s)->RecvInto(&got).ok() && got == sent, absl::StrCat("message ", i));
    }
    ctx.Check(p.conn().manager().frames_read_direct() > 0, "no frame was read straight");
    ctx.Check((*s)->CloseSend().ok() && IsEof((*s)->Recv().status()), "end");
  };
  Options o = Opts();
  o.split_bytes = 256 * 1024;  // frames large enough to go straight (tunables::kReadDirectMinBytes)
  for (int seed = 1; seed <= 5; ++seed) {
    sim::NetworkOptions net;
    net.link.segment_max_bytes = 1000 + 7919 * seed;  // reads end anywhere in a frame
    net.link.cut_reads = true;
    sim::RunResult r =
        RunPair(o, o, body, static_cast<uint64_t>(seed), nullptr, sim::FaultPlan::None(), net);
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, IntegrationTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Mux" : "Upstream";
                         });

}  // namespace
}  // namespace drpc
