// docs/protocol.md §13 sharp edges of Go drpc that we must not have (items 9, 12/13, 16, 17, 19), each proved
// on the simulator. The others are covered where their subject lives (see impl/README.md).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "proto/metadata.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::Describe;
using testing::ClientSide;
using testing::F;
using testing::Pair;
using testing::RawFrame;
using testing::RunClient;
using testing::RunPair;

// §13 item 9: a handler's nested call does not forward the client's metadata, neither with a
// child context nor with its own; copying incoming into outgoing metadata forwards it explicitly.
TEST(SharpEdgesTest, NestedCallsDoNotForwardIncomingMetadata) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    Conn* nested = nullptr;
    Router router = testing::EchoRouter();
    DRPC_CHECK_OK(router.Unary(
        "/t.T/Forward",
        [&nested](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
          CallContext child(ctx.env(), ctx);
          absl::StatusOr<std::string> implicit = nested->Invoke(child, "/interop.Echo/Meta", "");
          absl::StatusOr<std::string> own = nested->Invoke(ctx, "/interop.Echo/Meta", "");
          CallContext copy(ctx.env(), ctx);
          copy.metadata() = child.incoming_metadata();
          absl::StatusOr<std::string> explicit_ = nested->Invoke(copy, "/interop.Echo/Meta", "");
          if (!implicit.ok() || !own.ok() || !explicit_.ok()) {
            return absl::InternalError("nested call failed");
          }
          return absl::StrCat(*implicit, "|", *own, "|", *explicit_);
        }));
    ExpectOk(RunPair(o, o, [&nested, o](Pair& p, sim::SimContext& ctx) {
      auto [client_end, server_end] = ctx.network().Pipe("nested");
      Signal served(p.env());
      DRPC_CHECK_OK(p.env().scheduler().Spawn("nested server conn", [&, t = std::move(server_end)]() mutable {
        p.server().ServeConn(std::move(t)).IgnoreError();
        served.Set();
      }));
      std::unique_ptr<Conn> conn = *Conn::Create(p.env(), std::move(client_end), o);
      nested = conn.get();
      CallContext call(p.env());
      call.metadata()["k"] = "v";
      absl::StatusOr<std::string> r = p.conn().Invoke(call, "/t.T/Forward", "");
      ctx.Check(r.ok() && *r == "||k=v", absl::StrCat(r.status().ToString(), " ", r.value_or("")));
      conn->Close();
      served.Wait("nested server conn");
    }, 1, &router));
  }
}

// §13 item 16: deadlines do not travel on the wire. A client deadline ends the call locally with
// DeadlineExceeded; with soft cancel the server then gets a Cancel, nothing else.
TEST(SharpEdgesTest, DeadlineIsLocalAndBecomesASoftCancel) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    o.soft_cancel = true;
    ExpectOk(RunClient(o, [](ClientSide& c) {
      Env& env = c.sim.env();
      CallContext ctx(env);
      ctx.SetTimeout(Duration::Millis(20));
      absl::StatusOr<std::string> reply;
      Signal done(env);
      DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
        reply = c.conn.Invoke(ctx, "/interop.Echo/Slow", "x");
        done.Set();
      }));
      // Invoke, Message, CloseSend: no metadata carries the deadline (nor anything else).
      for (int i = 0; i < 3; ++i) {
        absl::StatusOr<RawFrame> f = c.server.ReadFrame();
        c.sim.Check(f.ok() && f->kind != Kind::kInvokeMetadata, Describe(f));
      }
      done.Wait("caller");
      c.sim.Check(absl::IsDeadlineExceeded(reply.status()), reply.status().ToString());
      absl::StatusOr<RawFrame> cancel = c.server.ReadFrame();
      c.sim.Check(cancel.ok() && cancel->kind == Kind::kCancel && cancel->control, Describe(cancel));
      c.sim.Check(c.server.Silent(Duration::Millis(5)), "more than a Cancel");
    }));
  }
}

// §13 item 17: upstream calls on one connection run one at a time; a hard cancel of the running
// one closes the connection, and the calls waiting behind it fail (they do not hang).
TEST(SharpEdgesTest, UpstreamCallsAreSerializedAndAHardCancelFailsThoseWaiting) {
  int running = 0, most = 0;
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Unary(
      "/t.T/Hold", [&](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
        most = std::max(most, ++running);
        SleepFor(ctx.env(), Duration::Millis(5));
        --running;
        return std::string("held");
      }));
  ExpectOk(RunPair(Options{}, Options{}, [&](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    std::vector<absl::Status> results(4);
    for (int i = 0; i < 3; ++i) {
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("hold ", i), [&, i] {
        CallContext call(env);
        results[i] = p.conn().Invoke(call, "/t.T/Hold", "").status();
        wg.Done();
      }));
    }
    wg.Wait();
    ctx.Check(most == 1, absl::StrCat(most, " calls ran at once"));
    CallContext doomed(env);
    wg.Add(3);
    DRPC_CHECK_OK(env.scheduler().Spawn("slow", [&] {
      results[3] = p.conn().Invoke(doomed, "/interop.Echo/Slow", "").status();
      wg.Done();
    }));
    std::vector<absl::Status> behind(2);
    for (int i = 0; i < 2; ++i) {
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("behind ", i), [&, i] {
        CallContext call(env);
        behind[i] = p.conn().Invoke(call, "/interop.Echo/Unary", "x").status();
        wg.Done();
      }));
    }
    SleepFor(env, Duration::Millis(1));
    doomed.Cancel();
    wg.Wait();
    ctx.Check(absl::IsCancelled(results[3]), results[3].ToString());
    for (const absl::Status& s : behind) ctx.Check(IsClosed(s), absl::StrCat("behind: ", s.ToString()));
  }, 1, &router));
}

// §13 item 19 / §13 item 1 (client side): a stream whose Invoke is still corked sends nothing at
// all when it is cancelled (hard or soft) or closed, the connection lives, and its buffered bytes
// are never sent ahead of the next stream.
TEST(SharpEdgesTest, CorkedStreamThatEndsSendsNothingAndLeavesNothingBehind) {
  for (int how = 0; how < 3; ++how) {
    Options o;
    o.soft_cancel = how == 1;
    ExpectOk(RunClient(o, [how](ClientSide& c) {
      CallContext doomed(c.sim.env());
      doomed.metadata()["trace"] = "1";
      absl::StatusOr<std::shared_ptr<RpcStream>> s1 = c.conn.NewStream(doomed, "/pkg.Svc/Bidi");
      if (how == 2) {
        c.sim.Check((*s1)->Close().ok(), "close");
      } else {
        doomed.Cancel();
      }
      SleepFor(c.sim.env(), Duration::Millis(1));
      c.sim.Check(c.writes->empty() && !c.conn.closed().IsSet(), "bytes sent or connection lost");
      CallContext ctx(c.sim.env());
      absl::StatusOr<std::shared_ptr<RpcStream>> s2 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
      c.sim.Check((*s2)->Send("x").ok(), "send");
      SleepFor(c.sim.env(), Duration::Millis(1));  // the sender waits: the message goes out
      c.sim.Check(!c.writes->empty(), "nothing written");
      testing::ExpectFrames(c.sim, "the first write", (*c.writes)[0],
                            {F(Kind::kInvoke, 2, 1, "/pkg.Svc/Bidi"), F(Kind::kMessage, 2, 2, "x")});
      (*s2)->Close().IgnoreError();
    }));
  }
}

// §13 items 12/13, Go's TestStream_SendCancelWhileConcurrentWriteAndCloseBlocked: a Send blocked
// on the transport and a Close waiting behind it; the soft cancel is "busy", so (as in Go) the
// connection is closed — promptly, with no deadlock, and both calls report the cancellation.
TEST(SharpEdgesTest, SoftCancelWhileAWriteAndACloseAreBlockedEndsPromptly) {
  Options o;
  o.soft_cancel = true;
  sim::NetworkOptions net;
  net.link.buffer_bytes = 2048;
  ExpectOk(RunClient(o, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.server.PauseReading();
    absl::Status sent, closed;
    WaitGroup wg(env);
    wg.Add(2);
    DRPC_CHECK_OK(env.scheduler().Spawn("sender", [&] {
      sent = (*s)->Send(std::string(100 * 1024, 's'));
      wg.Done();
    }));
    DRPC_CHECK_OK(env.scheduler().Spawn("closer", [&] {
      closed = (*s)->Close();
      wg.Done();
    }));
    SleepFor(env, Duration::Millis(5));
    c.sim.Check(sent.ok() && closed.ok() && wg.count() == 2, "the writes are not blocked");
    const Instant start = c.sim.now();
    ctx.Cancel();
    wg.Wait();
    c.sim.Check(c.sim.now() == start, "the cancel waited for the blocked writes");
    c.sim.Check(absl::IsCancelled(sent) && absl::IsCancelled(closed),
                absl::StrCat("send: ", sent.ToString(), "; close: ", closed.ToString()));
    c.sim.Check(absl::StrContains(c.conn.closed().status().message(), "write in progress"),
                c.conn.closed().status().ToString());
  }, 1, net));
}

// Go's TestStream_SendCancelBusyDuringBlockedClose: the stream is already terminated by a Close
// that is blocked on the transport; the soft cancel finds the write lock held: the connection is
// closed, the Close returns the cancellation, nothing hangs.
TEST(SharpEdgesTest, SoftCancelDuringABlockedCloseEndsPromptly) {
  Options o;
  o.soft_cancel = true;
  sim::NetworkOptions net;
  net.link.buffer_bytes = 2048;
  ExpectOk(RunClient(o, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<Stream>> s = c.conn.OpenStream(ctx, "/p.S/M");
    SleepFor(env, Duration::Millis(1));  // the raw peer's reader is now inside a Read
    c.server.PauseReading();
    c.sim.Check((*s)->Send("a").ok(), "first send");  // taken by the read already under way
    SleepFor(env, Duration::Millis(1));
    // A 2045-byte Message frame leaves 3 bytes of the 2048-byte buffer: Close's 4 bytes block.
    c.sim.Check((*s)->Send(std::string(2040, 'f')).ok(), "filling send");
    absl::Status closed;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("closer", [&] {
      closed = (*s)->Close();
      done.Set();
    }));
    SleepFor(env, Duration::Millis(5));
    c.sim.Check(!done.IsSet() && (*s)->terminated(), "Close is not blocked on the transport");
    const Instant start = c.sim.now();
    ctx.Cancel();
    done.Wait("closer");
    c.sim.Check(c.sim.now() == start, "the blocked Close was not released at once");
    c.sim.Check(absl::IsCancelled(closed), closed.ToString());
    c.sim.Check(c.conn.closed().IsSet(), "the connection survived a busy soft cancel");
  }, 1, net));
}

}  // namespace
}  // namespace drpc
