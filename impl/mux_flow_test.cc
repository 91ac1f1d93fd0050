// Mux flow control as the cockroachdb/drpc fork does it (docs/protocol.md §17, impl/mux_flow.cc):
// a static per-connection setting, nothing negotiated; senders wait only at message boundaries
// and overdraw to finish a message; receivers grant what their application consumed, coalesced to
// the threshold; malformed WindowUpdates are dropped and taken before any message-ID check; a
// queue over window + message fails its stream; mismatched ends fail a stalled sender with an error
// that names the likely cause. Golden bytes from docs/protocol.md §15.1 and §17.3.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/situations.h"
#include "impl/sync.h"
#include "impl/testing/echo_service.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/varint.h"
#include "proto/window.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::Describe;
using testing::ClientSide;
using testing::F;
using testing::MuxOptions;
using testing::Pair;
using testing::RawFrame;
using testing::RunClient;
using testing::RunPair;
using testing::RunServer;
using testing::ServerSide;

// A WindowUpdate as a peer sends it; `body` may be malformed.
RawFrame Grant(uint64_t stream, std::string body, uint64_t message = 0, bool control = true) {
  RawFrame f = F(Kind::kWindowUpdate, stream, message, std::move(body));
  f.control = control;
  return f;
}

uint64_t GrantDelta(const RawFrame& f) {
  Frame frame{.id = f.id, .kind = f.kind, .done = f.done, .control = f.control, .data = f.data};
  absl::StatusOr<uint64_t> d = ParseForkWindowUpdate(frame);
  return d.ok() ? *d : 0;
}

// Reads `bytes` of Message data (any number of frames) of `stream`; fails on anything else.
void ReadMessageBytes(sim::SimContext& sim, testing::RawPeer& peer, uint64_t stream, size_t bytes,
                      size_t* frames = nullptr) {
  size_t got = 0;
  while (got < bytes) {
    absl::StatusOr<RawFrame> f = peer.ReadFrame();
    sim.Check(f.ok() && f->kind == Kind::kMessage && f->id.stream == stream, Describe(f));
    got += f->data.size();
    if (frames != nullptr) ++*frames;
  }
  sim.Check(got == bytes, absl::StrCat("read ", got, " of ", bytes));
}

Router ReadOneThenWait() {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi("/t.T/ReadOne", [](CallContext& ctx, RpcStream& s) -> absl::Status {
    if (absl::Status st = s.Recv().status(); !st.ok()) return st;
    ctx.done_signal().Wait("handler: read one, now waiting");
    return ctx.err();
  }));
  DRPC_CHECK_OK(router.Bidi("/t.T/ReadAll", [](CallContext&, RpcStream& s) -> absl::Status {
    for (;;) {
      absl::Status st = s.Recv().status();
      if (IsEof(st)) return absl::OkStatus();
      if (!st.ok()) return st;
    }
  }));
  return router;
}

// The fork's own test (TestManager_DefaultConfigEmitsNoWindowUpdates): with default options no
// WindowUpdate is ever sent, and one received is dropped without harm.
TEST(MuxFlowTest, TheDefaultConfigurationSendsNoWindowUpdates) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    std::vector<RawFrame> call = {F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi")};
    for (uint64_t m = 2; m < 2 + 40; ++m) call.push_back(F(Kind::kMessage, 1, m, std::string(100'000, 'x')));
    call.push_back(Grant(1, EncodeWindowUpdate(1 << 20)));
    call.push_back(F(Kind::kCloseSend, 1, 42));
    s.sim.Check(s.client.WriteBytes(testing::Encode(call)).ok(), "write");
    for (int i = 0; i < 40;) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok() && f->kind == Kind::kMessage, Describe(f));
      if (f->done) ++i;
    }
    absl::StatusOr<RawFrame> end = s.client.ReadFrame();
    s.sim.Check(end.ok() && end->kind == Kind::kCloseSend, Describe(end));
  }));
}

// §15.1: a 3 MiB request under the fork's 2 MiB window leaves as 48 frames of 64 KiB at once —
// its first frame fits the credit, the rest overdraws (a per-frame gate would wait for ever: the
// fork grants nothing for a partial message).
TEST(MuxFlowTest, AMessageLargerThanTheWindowGoesOutWhole) {
  ExpectOk(RunClient(Options::ForkDefaults(), [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::string> reply;
    Signal done(c.sim.env());
    DRPC_CHECK_OK(c.sim.env().scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Unary", std::string(3 << 20, 'r'));
      done.Set();
    }));
    absl::StatusOr<RawFrame> invoke = c.server.ReadFrame();
    c.sim.Check(invoke.ok() && invoke->kind == Kind::kInvoke, Describe(invoke));
    size_t frames = 0;
    ReadMessageBytes(c.sim, c.server, 1, 3 << 20, &frames);
    c.sim.Check(frames == 48, absl::StrCat(frames, " frames"));
    absl::StatusOr<RawFrame> close_send = c.server.ReadFrame();
    c.sim.Check(close_send.ok() && close_send->kind == Kind::kCloseSend, Describe(close_send));
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, "ok"), F(Kind::kCloseSend, 1, 2)}).ok(), "w");
    done.Wait("caller");
    c.sim.Check(reply.ok() && *reply == "ok", reply.status().ToString());
  }));
}

// After an overdraft the next message waits until grants repay the deficit and cover its first
// frame. Grants are taken before any message-ID check (any message ID, here 77); malformed ones
// (no control bit, stream 0, zero delta, trailing bytes) are dropped without harm; a delta of
// 2^64 - 1 saturates the credit.
TEST(MuxFlowTest, GrantsRepayTheOverdraftMalformedOnesAreDropped) {
  ExpectOk(RunClient(Options::ForkDefaults(), [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    Signal sent(c.sim.env());
    DRPC_CHECK_OK(c.sim.env().scheduler().Spawn("sender", [&] {
      c.sim.Check((*s)->Send(std::string(3 << 20, 'a')).ok(), "first");  // credit: -1 MiB
      c.sim.Check((*s)->Send("b").ok(), "second");
      c.sim.Check((*s)->Send("c").ok(), "third");
      sent.Set();
    }));
    c.server.ReadFrame().IgnoreError();  // the Invoke
    ReadMessageBytes(c.sim, c.server, 1, 3 << 20);
    std::string max;
    AppendVarint(max, UINT64_MAX);
    RawFrame stream0 = Grant(0, EncodeWindowUpdate(4 << 20));
    c.sim.Check(c.server.Write({Grant(1, EncodeWindowUpdate(4 << 20), 0, /*control=*/false),
                                stream0, Grant(1, std::string("\x00", 1)),
                                Grant(1, EncodeWindowUpdate(4 << 20) + "x")})
                    .ok(),
                "malformed grants");
    c.sim.Check(c.server.Silent(Duration::Millis(5)), "a malformed grant gave credit");
    c.sim.Check(c.server.Write({Grant(1, EncodeWindowUpdate(1 << 20), /*message=*/77)}).ok(), "w");
    c.sim.Check(c.server.Silent(Duration::Millis(5)), "sent at a credit of 0");
    c.sim.Check(c.server.Write({Grant(1, EncodeWindowUpdate(1), 77)}).ok(), "w");
    absl::StatusOr<RawFrame> b = c.server.ReadFrame();
    c.sim.Check(b.ok() && b->data == "b", Describe(b));
    c.sim.Check(c.server.Write({Grant(1, max)}).ok(), "saturating grant");
    absl::StatusOr<RawFrame> cc = c.server.ReadFrame();
    c.sim.Check(cc.ok() && cc->data == "c", Describe(cc));
    sent.Wait("sender");
    c.sim.Check(!c.conn.closed().IsSet(), "the connection ended");
    (*s)->Close().IgnoreError();
  }));
}

// §15.1, §17.3: after its application consumed a 3 MiB message, a fork-configured receiver grants
// all of it in one WindowUpdate: 91 01 00 04 80 80 c0 01.
TEST(MuxFlowTest, AConsumedMessageIsGrantedInOneWindowUpdate) {
  ExpectOk(RunClient(Options::ForkDefaults(), [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/ServerStream");
    c.sim.Check((*s)->SendLast("go").ok(), "request");
    for (int i = 0; i < 3; ++i) c.server.ReadFrame().IgnoreError();  // Invoke, Message, CloseSend
    std::vector<RawFrame> reply;
    for (size_t at = 0; at < (3u << 20); at += 64 * 1024) {
      RawFrame f = F(Kind::kMessage, 1, 1, std::string(64 * 1024, 'm'));
      f.done = at + 64 * 1024 == (3u << 20);
      reply.push_back(std::move(f));
    }
    c.sim.Check(c.server.WriteBytes(testing::Encode(reply)).ok(), "reply");
    c.sim.Check(c.server.Silent(Duration::Millis(5)), "granted before the application read");
    absl::StatusOr<std::string> m = (*s)->Recv();
    c.sim.Check(m.ok() && m->size() == (3u << 20), m.status().ToString());
    absl::StatusOr<RawFrame> grant = c.server.ReadFrame();
    c.sim.Check(grant.ok(), Describe(grant));
    c.sim.Check(testing::Encode({*grant}) == std::string("\x91\x01\x00\x04\x80\x80\xc0\x01", 8),
                Describe(grant));
    c.sim.Check(c.server.Write({F(Kind::kCloseSend, 1, 2)}).ok(), "end");
    c.sim.Check(IsEof((*s)->Recv().status()), "EOF");
  }));
}

// Consumed bytes accumulate until they reach the threshold; each WindowUpdate carries all of them
// (at least the threshold), never more than was consumed.
TEST(MuxFlowTest, GrantsAreCoalescedToTheThreshold) {
  Options o = MuxOptions();
  o.flow = {.enabled = true, .stream_window_bytes = 8192, .grant_threshold_bytes = 2048};
  o.split_bytes = 1024;
  const Router router = ReadOneThenWait();
  ExpectOk(RunServer(o, [](ServerSide& s) {
    std::vector<RawFrame> call = {F(Kind::kInvoke, 1, 1, "/t.T/ReadAll")};
    for (uint64_t m = 2; m < 12; ++m) call.push_back(F(Kind::kMessage, 1, m, std::string(500, 'g')));
    s.sim.Check(s.client.WriteBytes(testing::Encode(call)).ok(), "write");
    uint64_t granted = 0;
    while (5000 - granted >= 2048) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok() && f->kind == Kind::kWindowUpdate && f->id == PacketId{1, 0} && f->control,
                  Describe(f));
      const uint64_t delta = GrantDelta(*f);
      s.sim.Check(delta >= 2048 && granted + delta <= 5000,
                  absl::StrCat("delta ", delta, " after ", granted));
      granted += delta;
    }
    s.sim.Check(s.client.Silent(Duration::Millis(5)), "a grant below the threshold");
    s.sim.Check(s.client.Write({F(Kind::kCloseSend, 1, 12)}).ok(), "end");
    absl::StatusOr<RawFrame> end = s.client.ReadFrame();
    s.sim.Check(end.ok() && end->kind == Kind::kCloseSend, Describe(end));
  }, 1, &router));
}

// Line H tolerance (§17.6): a partly received message that a higher message ID abandons was charged
// to its sender, so its bytes are granted back as if consumed.
TEST(MuxFlowTest, AnAbandonedPartialMessageIsGrantedBack) {
  Options o = MuxOptions();
  o.flow = {.enabled = true, .stream_window_bytes = 8192, .grant_threshold_bytes = 1024};
  o.split_bytes = 1024;
  const Router router = ReadOneThenWait();
  ExpectOk(RunServer(o, [](ServerSide& s) {
    RawFrame partial = F(Kind::kMessage, 1, 2, std::string(3000, 'p'));
    partial.done = false;
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/t.T/ReadOne"), partial,
                                F(Kind::kMessage, 1, 3, "whole")})
                    .ok(),
                "w");
    uint64_t granted = 0;
    while (granted < 3000) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok() && f->kind == Kind::kWindowUpdate, Describe(f));
      granted += GrantDelta(*f);
    }
    s.sim.Check(granted <= 3005, absl::StrCat("granted ", granted));
    s.sim.Check(s.client.Write({F(Kind::kCancel, 1, 4)}).ok(), "cancel");
  }, 1, &router));
}

// §17.4: a peer that sends beyond window + largest message while the queue holds messages ignored
// flow control: the stream fails with an abortive Error (87, ResourceExhausted, the fork's text),
// and the connection serves the next stream.
TEST(MuxFlowTest, AQueueOverWindowPlusMessageFailsOnlyItsStream) {
  Options o = MuxOptions();
  o.split_bytes = 1024;
  o.flow = {.enabled = true,
            .stream_window_bytes = 4096,
            .grant_threshold_bytes = 1024,
            .message_max_bytes = 4096};
  const Router router = ReadOneThenWait();
  ExpectOk(RunServer(o, [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/t.T/ReadOne"),
                                F(Kind::kMessage, 1, 2, "read"),
                                F(Kind::kMessage, 1, 3, std::string(4000, 'q')),
                                F(Kind::kMessage, 1, 4, std::string(4000, 'q')),
                                F(Kind::kMessage, 1, 5, std::string(4000, 'q'))})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame();
    s.sim.Check(error.ok() && error->kind == Kind::kError && error->control &&
                    error->id == PacketId{1, 1},
                Describe(error));
    const std::string want = EncodeErrorBody(
        ErrorFormat::kGrpcStatus,
        {.code = 8, .text = "receive queue cap exceeded: receive queue exceeded its 8192-byte cap"});
    s.sim.Check(error->data == want, Describe(error));
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 3, 1, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 3, 2, "alive"), F(Kind::kCloseSend, 3, 3)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> reply = s.client.ReadFrame();
    s.sim.Check(reply.ok() && *reply == F(Kind::kMessage, 3, 1, "alive"), Describe(reply));
  }, 1, &router));
}

// Issue 14 item 3, docs/protocol.md §17.5: one end with flow control and the other without never
// hangs. The sender with flow control stalls once its window is spent; after credit_stall_timeout
// its stream fails with kResourceExhausted naming the likely cause, the peer is told, and the
// connection goes on. Short calls work in every combination.
TEST(MuxFlowTest, MismatchedEndsFailAStalledSenderNamingTheCause) {
  for (bool client_on : {true, false}) {
    Options on = MuxOptions();
    on.split_bytes = 1024;
    on.flow = {.enabled = true, .stream_window_bytes = 4096, .grant_threshold_bytes = 1024};
    on.credit_stall_timeout = Duration::Millis(50);
    Options off = MuxOptions();
    const Options& client = client_on ? on : off;
    const Options& server = client_on ? off : on;
    ExpectOk(RunPair(client, server, [client_on](Pair& p, sim::SimContext& ctx) {
      CallContext call(p.env());
      absl::StatusOr<std::string> small = p.conn().Invoke(call, "/interop.Echo/Unary", "short");
      ctx.Check(small.ok() && *small == "short", small.status().ToString());
      const Instant start = ctx.now();
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/interop.Echo/Bidi");
      absl::Status failed;
      if (client_on) {  // our sends stall: the server grants nothing
        for (int i = 0; i < 10 && failed.ok(); ++i) failed = (*s)->Send(std::string(3000, 's'));
      } else {  // the server's echoes stall: we grant nothing; we never read either
        for (int i = 0; i < 10; ++i) ctx.Check((*s)->Send(std::string(3000, 'e')).ok(), "send");
        ctx.Check((*s)->CloseSend().ok(), "close send");
        while (failed.ok()) failed = (*s)->Recv().status();
      }
      ctx.Check(absl::IsResourceExhausted(failed) &&
                    absl::StrContains(failed.message(), "flow-control credit stall") &&
                    absl::StrContains(failed.message(), "is flow control enabled on both ends"),
                failed.ToString());
      ctx.Check(ctx.now() - start >= Duration::Millis(50) && ctx.now() - start < Duration::Seconds(1),
                (ctx.now() - start).ToString());
      (*s)->Close().IgnoreError();
      absl::StatusOr<std::string> after = p.conn().Invoke(call, "/interop.Echo/Unary", "after");
      ctx.Check(after.ok() && *after == "after", after.status().ToString());
    }), absl::StrCat("flow control on the ", client_on ? "client" : "server"));
  }
}

// A grant that arrives after a credit stall failed its stream, while the application still holds
// the stream, sends nothing more: the stream left the connection with its Error (the stalled
// message with it), so the grant is one for an unknown stream, and the connection goes on.
TEST(MuxFlowTest, AGrantAfterACreditStallSendsNothingMore) {
  Options o = MuxOptions();
  o.split_bytes = 1024;
  o.flow = {.enabled = true, .stream_window_bytes = 4096, .grant_threshold_bytes = 1024};
  o.credit_stall_timeout = Duration::Millis(5);
  const sim::RunResult r = RunClient(o, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check(s.ok(), s.status().ToString());
    std::shared_ptr<RpcStream> stream = *s;
    absl::Status third;
    Signal stalled(c.sim.env());
    Signal release(c.sim.env());
    Signal closed(c.sim.env());
    DRPC_CHECK_OK(c.sim.env().scheduler().Spawn("sender", [&, stream] {
      c.sim.Check(stream->Send(std::string(3000, 'a')).ok(), "first");   // credit 4096 - 3000
      c.sim.Check(stream->Send(std::string(3000, 'b')).ok(), "second");  // overdraws to -1904
      third = stream->Send(std::string(3000, 'c'));                      // waits, then stalls
      stalled.Set();
      release.Wait("sender: holds its failed stream");
      stream->Close().IgnoreError();
      closed.Set();
    }));
    c.server.ReadFrame().IgnoreError();  // the Invoke
    ReadMessageBytes(c.sim, c.server, 1, 6000);
    absl::StatusOr<RawFrame> error = c.server.ReadFrame();
    c.sim.Check(error.ok() && error->kind == Kind::kError && error->id.stream == 1, Describe(error));
    stalled.Wait("the stall");
    c.sim.Check(absl::IsResourceExhausted(third) &&
                    absl::StrContains(third.message(), "flow-control credit stall"),
                third.ToString());
    c.sim.Check(c.server.Write({Grant(1, EncodeWindowUpdate(1 << 20))}).ok(), "late grant");
    c.sim.Check(c.server.Silent(Duration::Millis(5)), "a failed stream sent after a late grant");
    release.Set();
    closed.Wait("the sender's close");
    c.sim.Check(!c.conn.closed().IsSet(), "the connection ended");
  });
  ExpectOk(r);
  EXPECT_TRUE(r.reached.contains(std::string(situations::kMuxWindowUpdateForAnUnknownStream.name())));
}

// Both ends alike, on or off: far more than a window each way, messages larger than the window
// included, completes.
TEST(MuxFlowTest, MatchedEndsMoveFarMoreThanAWindow) {
  for (bool on : {true, false}) {
    Options o = MuxOptions();
    o.split_bytes = 4096;
    if (on) o.flow = {.enabled = true, .stream_window_bytes = 16384, .grant_threshold_bytes = 4096};
    ExpectOk(RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
      for (int i = 0; i < 40; ++i) {
        const std::string m(i % 4 == 0 ? 50'000 : 3000, static_cast<char>('a' + i % 26));
        ctx.Check((*s)->Send(m).ok(), absl::StrCat("send ", i));
        absl::StatusOr<std::string> r = (*s)->Recv();
        ctx.Check(r.ok() && *r == m, absl::StrCat("echo ", i, ": ", r.status().ToString()));
      }
      ctx.Check((*s)->CloseSend().ok() && IsEof((*s)->Recv().status()), "end");
      (*s)->Close().IgnoreError();
    }), on ? "flow control on" : "flow control off");
  }
}

}  // namespace
}  // namespace drpc
