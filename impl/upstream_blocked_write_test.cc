// Upstream mode, client side: opening a stream and receiving on it never wait for a transport
// write (docs/protocol.md §7.6). A write may be blocked for as long as the peer does not read,
// and the peer may not be reading because it waits for this very call: a receiver that waited
// would leave its queue undrained (a buffer cycle), an opener that waited would not hear a cancel.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/sync.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "sim/testing/expect.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

using testing::ClientSide;
using testing::ExpectOk;
using testing::F;
using testing::RawFrame;
using testing::RunClient;

// A link whose 16 bytes fill at once while the raw peer is paused.
sim::NetworkOptions TinyLink() {
  sim::NetworkOptions net;
  net.link.buffer_bytes = 16;
  return net;
}

// A receive before any send hands the corked Invoke to the flusher and goes on to wait for a
// message (pr54.upstream.SustainedConcurrentStreams 200030: the receiver waited for the write
// lock, held by its sender in a write the peer's full buffers blocked).
TEST(UpstreamBlockedWriteTest, FirstRecvDeliversWhileTheInvokeWriteIsBlocked) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    SleepFor(env, Duration::Millis(1));
    c.server.PauseReading();
    CallContext ctx(env);
    const std::string rpc = absl::StrCat("/pkg.Svc/", std::string(64, 'b'));
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, rpc);
    c.sim.Check(s.ok(), s.status().ToString());
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, "early")}).ok(), "reply");
    absl::StatusOr<std::string> got;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("receiver", [&] {
      got = (*s)->Recv();
      done.Set();
    }));
    SleepFor(env, Duration::Millis(5));
    c.sim.Check(done.IsSet(), "Recv waited for a write the paused peer blocks");
    c.server.ResumeReading();
    done.Wait("receiver");
    c.sim.Check(got.ok() && *got == "early", got.status().ToString());
    absl::StatusOr<RawFrame> invoke = c.server.ReadFrame();
    c.sim.Check(invoke.ok() && *invoke == F(Kind::kInvoke, 1, 1, rpc),
                invoke.ok() ? invoke->ToString() : invoke.status().ToString());
    (*s)->Close().IgnoreError();
  }, 1, TinyLink()));
}

// Metadata larger than the write buffer stays corked too: opening the stream writes nothing, so a
// cancel while the Invoke cannot be written finds a watched stream and the call ends Canceled
// (pr54.upstream.ConcurrentCancelCloseTransportClose 201403: the open itself wrote, there by an
// early flush, blocked, and the call ended with whatever later closed the connection).
TEST(UpstreamBlockedWriteTest, CancelEndsACallWhoseLargeInvokeWriteIsBlocked) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    SleepFor(env, Duration::Millis(1));
    c.server.PauseReading();
    CallContext ctx(env);
    ctx.metadata()["big"] = std::string(2 * tunables::kWriteBufferDefaultBytes, 'm');
    absl::Status opened;
    absl::Status ended;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
      opened = s.status();
      if (s.ok()) ended = (*s)->Send("request");
      if (ended.ok()) ended = (*s)->Recv().status();
      done.Set();
    }));
    SleepFor(env, Duration::Millis(5));
    c.sim.Check(!done.IsSet(), "the call should be waiting (its Invoke cannot be written)");
    ctx.Cancel();
    SleepFor(env, Duration::Millis(5));
    c.sim.Check(done.IsSet(), "a cancel while the call's first write was blocked went unheard");
    c.server.ResumeReading();
    done.Wait("caller");
    c.sim.Check(opened.ok(), opened.ToString());
    c.sim.Check(absl::IsCancelled(ended), ended.ToString());
  }, 1, TinyLink()));
}

// Opening a stream waits for the write lock while an earlier stream's write holds it; a cancel
// meanwhile ends the open with Canceled, even if the connection ends before the lock comes free
// (pr54.upstream.ConcurrentCancelCloseTransportClose 204980).
TEST(UpstreamBlockedWriteTest, CancelWhileOpeningBehindABlockedWriteIsCanceled) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    SleepFor(env, Duration::Millis(1));
    c.server.PauseReading();
    CallContext first_ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> first = c.conn.NewStream(first_ctx, "/pkg.Svc/Bidi");
    c.sim.Check(first.ok() && (*first)->Send(std::string(200, 'x')).ok(), "first stream");
    SleepFor(env, Duration::Millis(1));  // the flusher's write of it blocks
    c.sim.Check(c.server.Write({F(Kind::kClose, 1, 1)}).ok(), "close the first stream");
    SleepFor(env, Duration::Millis(1));
    CallContext ctx(env);
    absl::Status opened;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("opener", [&] {
      opened = c.conn.NewStream(ctx, "/pkg.Svc/Bidi").status();
      done.Set();
    }));
    SleepFor(env, Duration::Millis(1));
    c.sim.Check(!done.IsSet(), "the open should wait for the write lock");
    ctx.Cancel();
    SleepFor(env, Duration::Millis(1));
    c.server.Close();  // the blocked write fails, the connection ends, the lock comes free
    done.Wait("opener");
    c.sim.Check(absl::IsCancelled(opened), opened.ToString());
  }, 1, TinyLink()));
}

}  // namespace
}  // namespace drpc
