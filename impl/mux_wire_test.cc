// Mux mode on the wire, against raw peers: back-pressure on refusals instead of a disconnect,
// nothing sent for a stream whose Invoke never left, pending-invoke and unknown-kind rules, a
// Cancel before its stream, and the documented failure of a mux client against an upstream
// server (docs/protocol.md §11.6).
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/metadata.h"

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

// A mux unary call is one write each way. The client's metadata, Invoke, message and CloseSend
// leave together, and it sends no Close once the server's CloseSend came with the reply. A server
// that read the client's CloseSend along with the Invoke grants no window (nothing more can
// arrive on the stream) and answers with its message and CloseSend in one write.
TEST(MuxWireTest, UnaryCallIsOneWriteEachWay) {
  ExpectOk(RunClient(MuxOptions(), [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/pkg.Svc/Echo", "hi");
      done.Set();
    }));
    std::vector<RawFrame> call;
    for (Kind kind : {Kind::kInvoke, Kind::kMessage, Kind::kCloseSend}) {
      absl::StatusOr<RawFrame> f = c.server.ReadFrame();
      c.sim.Check(f.ok() && f->kind == kind, absl::StrCat("want ", KindName(kind), ", got ", Describe(f)));
      call.push_back(*f);
    }
    c.sim.Check(c.writes->size() == 1, absl::StrCat(c.writes->size(), " writes for one call"));
    testing::ExpectFrames(c.sim, "unary call write", c.writes->back(), call);
    const uint64_t id = call[0].id.stream;
    c.sim.Check(c.server.Write({F(Kind::kMessage, id, 1, "hi"), F(Kind::kCloseSend, id, 2)}).ok(),
                "reply");
    done.Wait("caller");
    c.sim.Check(reply.ok() && *reply == "hi", reply.status().ToString());
    c.sim.Check(c.server.Silent(Duration::Millis(5)), "the client wrote after a finished call");
  }));
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    const std::string md = EncodeMetadata({{"k", "v"}});
    s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, 1, 1, md),
                                F(Kind::kInvoke, 1, 2, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 1, 3, "ping"), F(Kind::kCloseSend, 1, 4)})
                    .ok(),
                "call");
    absl::StatusOr<RawFrame> m = s.client.ReadFrame();
    absl::StatusOr<RawFrame> cs = s.client.ReadFrame();
    s.sim.Check(m.ok() && *m == F(Kind::kMessage, 1, 1, "ping") && cs.ok() &&
                    *cs == F(Kind::kCloseSend, 1, 2),
                absl::StrCat("reply: ", Describe(m), ", ", Describe(cs)));
    s.sim.Check(s.writes->size() == 1, absl::StrCat(s.writes->size(), " writes for one reply"));
    testing::ExpectFrames(s.sim, "unary reply write", s.writes->back(), {*m, *cs});
  }));
}

// Issue 13 item 4: a burst of 4,000 Invokes from a client that does not read yet. The refusals
// wait for the writer (the reader stops reading: back-pressure throttles the flood) instead of
// ending the connection; once the client reads, every call is answered — served or refused —
// and nothing accepted is discarded.
TEST(MuxWireTest, ABurstOfInvokesFromAPeerNotReadingIsThrottledNotDisconnected) {
  Options o = MuxOptions();
  sim::NetworkOptions net;
  net.link.buffer_bytes = 4096;  // our writes back up soon once the peer stops reading
  ExpectOk(RunServer(o, [](ServerSide& s) {
    constexpr uint64_t kCalls = 4000;
    s.client.PauseReading();
    Signal written(s.sim.env());
    DRPC_CHECK_OK(s.sim.env().scheduler().Spawn("flooder", [&] {
      std::vector<RawFrame> calls;
      for (uint64_t id = 1; id <= kCalls; ++id) {
        calls.push_back(F(Kind::kInvoke, id, 1, "/interop.Echo/Unary"));
        calls.push_back(F(Kind::kMessage, id, 2, absl::StrCat(id)));
        calls.push_back(F(Kind::kCloseSend, id, 3));
      }
      written.Set(s.client.WriteBytes(testing::Encode(calls)));
    }));
    SleepFor(s.sim.env(), Duration::Millis(100));
    s.sim.Check(!s.served.IsSet(), s.served.status().ToString());
    s.sim.Check(!written.IsSet(), "the flood was read although nothing was written back");
    s.client.ResumeReading();
    std::map<uint64_t, std::string> answers;  // by stream: the reply, or "refused"
    while (answers.size() < kCalls) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok(), absl::StrCat(answers.size(), " answers, then ", Describe(f)));
      if (f->kind == Kind::kMessage) {
        s.sim.Check(f->data == absl::StrCat(f->id.stream), f->ToString());
        answers[f->id.stream] = f->data;
      } else if (f->kind == Kind::kError) {
        absl::Status refusal = StatusFromErrorBody(ErrorFormat::kGrpcStatus, f->data);
        s.sim.Check(f->id.message == 1 && absl::IsResourceExhausted(refusal), f->ToString());
        answers[f->id.stream] = "refused";
      }
    }
    written.Wait("flooder");
    s.sim.Check(written.status().ok(), written.status().ToString());
    size_t refused = 0;
    for (const auto& [id, a] : answers) refused += a == "refused";
    s.sim.Check(refused > 0 && refused < kCalls, absl::StrCat(refused, " refused"));
    s.sim.Check(!s.served.IsSet(), "the connection ended");
  }, 1, nullptr, net));
}

// A stream cancelled or closed while its metadata and Invoke are still queued sends nothing at
// all: the server never hears of it (no Cancel for an unknown stream).
TEST(MuxWireTest, CancelOrCloseBeforeTheInvokeIsWrittenSendsNothing) {
  ExpectOk(RunClient(MuxOptions(), [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext doomed(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s1 = c.conn.NewStream(doomed, "/pkg.Svc/Bidi");
    doomed.Cancel();  // the writer fiber has not run yet
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s2 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s2)->Close().ok(), "close");
    absl::StatusOr<std::shared_ptr<RpcStream>> s3 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s3)->Send("x").ok(), "send");
    for (Kind kind : {Kind::kInvoke, Kind::kMessage}) {
      absl::StatusOr<RawFrame> f = c.server.ReadFrame();
      c.sim.Check(f.ok() && f->id.stream == 3 && f->kind == kind,
                  absl::StrCat("want only stream 3's frames, got ", Describe(f)));
    }
    c.sim.Check(c.server.Silent(Duration::Millis(5)), "more frames");
    c.sim.Check(absl::IsCancelled((*s1)->Recv().status()), "s1 Recv");
    (*s3)->Close().IgnoreError();
  }));
}

// Streams whose metadata arrived without their Invoke are bounded (pending_invokes_max_count):
// one more is refused with an Error on message ID 1 — its Invoke, when it comes, is dropped (it
// was answered) — and the connection serves the others.
TEST(MuxWireTest, PendingInvokesBeyondTheBoundAreRefusedTheConnectionLives) {
  Options o = MuxOptions();
  o.pending_invokes_max_count = 3;
  ExpectOk(RunServer(o, [](ServerSide& s) {
    for (uint64_t id = 1; id <= 4; ++id) {
      s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, id, 1, EncodeMetadata({{"k", "v"}}))}).ok(),
                  "w");
    }
    absl::StatusOr<RawFrame> refusal = s.client.ReadFrame();
    s.sim.Check(refusal.ok() && refusal->kind == Kind::kError && refusal->id == PacketId{4, 1},
                Describe(refusal));
    const absl::Status why = StatusFromErrorBody(ErrorFormat::kGrpcStatus, refusal->data);
    s.sim.Check(absl::IsResourceExhausted(why) &&
                    absl::StrContains(why.message(), "waiting for their Invoke"),
                why.ToString());
    for (uint64_t id = 1; id <= 4; ++id) {
      s.sim.Check(s.client.Write({F(Kind::kInvoke, id, 2, "/interop.Echo/Meta"),
                                  F(Kind::kMessage, id, 3, ""), F(Kind::kCloseSend, id, 4)})
                      .ok(),
                  "w");
    }
    for (int i = 0; i < 6; ++i) {  // Message + CloseSend of streams 1..3
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok() && f->id.stream <= 3 && (f->kind != Kind::kMessage || f->data == "k=v"),
                  Describe(f));
    }
    s.sim.Check(s.client.Silent(Duration::Millis(5)), "the refused stream ran");
    s.sim.Check(!s.served.IsSet(), s.served.status().ToString());
  }));
}

// docs/protocol.md §3 / §11.4: an unknown kind with the control bit is ignored; without it the connection
// ends (a protocol error is connection-scoped in mux mode too).
TEST(MuxWireTest, UnknownKindIsIgnoredWithControlBitAndEndsTheConnectionWithout) {
  for (bool control : {true, false}) {
    ExpectOk(RunServer(MuxOptions(), [control](ServerSide& s) {
      RawFrame odd = F(static_cast<Kind>(20), 1, 2, "?");
      odd.control = control;
      s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary"), odd,
                                  F(Kind::kMessage, 1, 3, "x"), F(Kind::kCloseSend, 1, 4)})
                      .ok(),
                  "w");
      if (control) {
        absl::StatusOr<RawFrame> m = s.client.ReadFrame();
        s.sim.Check(m.ok() && *m == F(Kind::kMessage, 1, 1, "x"), Describe(m));
      } else {
        absl::StatusOr<std::vector<RawFrame>> rest = s.client.ReadUntilClosed();
        s.sim.Check(rest.ok() && rest->empty(), "want the connection closed without a frame");
        s.sim.Check(IsProtocolError(s.served.status()), s.served.status().ToString());
      }
    }));
  }
}

// A Cancel for a stream the server does not have is dropped, as the fork drops it (it usually
// crossed the end of its stream); nothing is kept for its ID, so an Invoke that still follows
// starts a stream. Our clients never send a Cancel before their Invoke.
TEST(MuxWireTest, CancelForAStreamTheServerDoesNotHaveIsDropped) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    RawFrame cancel = F(Kind::kCancel, 1, 1);
    cancel.control = true;
    s.sim.Check(s.client.Write({cancel, F(Kind::kInvoke, 1, 2, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 1, 3, "served"), F(Kind::kCloseSend, 1, 4)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> m = s.client.ReadFrame();
    s.sim.Check(m.ok() && *m == F(Kind::kMessage, 1, 1, "served"), Describe(m));
    absl::StatusOr<RawFrame> cs = s.client.ReadFrame();
    s.sim.Check(cs.ok() && *cs == F(Kind::kCloseSend, 1, 2), Describe(cs));
  }));
}

// docs/protocol.md §11.6: a mux client cannot talk to an upstream server. Its second concurrent Invoke
// silently cancels the first stream on the server, and the first stream's next frame carries a
// lower ID than the second's, which the server's global monotonicity check rejects: the server
// closes the connection. Every call then fails with a "closed" error — an error, not a hang.
TEST(MuxWireTest, MuxClientAgainstAnUpstreamServerFailsWithAnErrorNotAHang) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    ExpectOk(RunPair(MuxOptions(), testing::UpstreamOptions(), [](Pair& p, sim::SimContext& ctx) {
      const Instant start = ctx.now();
      CallContext call(p.env());
      absl::StatusOr<std::shared_ptr<RpcStream>> s1 =
          p.conn().NewStream(call, "/interop.Echo/Bidi");
      ctx.Check((*s1)->Send("a").ok() && (*s1)->Recv().ok(), "one stream alone works");
      absl::StatusOr<std::shared_ptr<RpcStream>> s2 =
          p.conn().NewStream(call, "/interop.Echo/Bidi");
      (*s2)->Send("b").IgnoreError();
      (*s1)->Send("c").IgnoreError();  // (1,3) after (2,2): the server ends the connection
      absl::Status r1 = (*s1)->Recv().status();
      absl::Status r2;
      while (r2.ok()) r2 = (*s2)->Recv().status();
      ctx.Check(IsClosed(r1) && IsClosed(r2),
                absl::StrCat("stream 1: ", r1.ToString(), "; stream 2: ", r2.ToString()));
      ctx.Check(p.conn().closed().IsSet(), "the connection is still open");
      ctx.Check(ctx.now() - start < Duration::Seconds(1), "took too long");
    }, seed));
  }
}

}  // namespace
}  // namespace drpc
