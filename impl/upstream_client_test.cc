// Upstream mode, client side, checked on the wire against a raw peer (docs/protocol.md §7, §8, §9, §12.4,
// §12.7 E1–E5, E13–E15, §13 items 4, 11).
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "sim/testing/expect.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/metadata.h"
#include "proto/splitter.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::ClientSide;
using testing::Encode;
using testing::ExpectFrames;
using testing::F;
using testing::RawFrame;
using testing::RunClient;

RawFrame Read(ClientSide& c) {
  absl::StatusOr<RawFrame> f = c.server.ReadFrame();
  c.sim.Check(f.ok(), absl::StrCat("expected a frame: ", f.status().ToString()));
  return *f;
}

// The exact bytes of docs/protocol.md §9.1: a unary call with metadata {"key":"value"} on a fresh connection.
TEST(UpstreamClientTest, UnaryCallWritesGoBytesInOneWriteThenClose) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    ctx.metadata()["key"] = "value";
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/pkg.Svc/Echo", "hi");
      done.Set();
    }));
    std::string want;
    absl::StrAppend(&want, absl::HexStringToBytes("0F01010E0A0C0A036B6579120576616C7565"),
                    absl::HexStringToBytes("0301020D2F706B672E5376632F4563686F"),
                    absl::HexStringToBytes("0501030268690D010400"));
    for (int i = 0; i < 4; ++i) Read(c);
    c.sim.Check(!c.writes->empty() && (*c.writes)[0] == want,
                "the unary call must be one write of exactly Go's 45 bytes");
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, "qux")}).ok(), "reply");
    done.Wait("caller");
    c.sim.Check(reply.ok() && *reply == "qux", reply.status().ToString());
    // The client closes the stream: Close(1,5), since the server's CloseSend has not arrived.
    RawFrame close = Read(c);
    c.sim.Check(close == F(Kind::kClose, 1, 5), close.ToString());
    // Later packets for the finished stream get no answer (TestConn_InvokeFlushesSendClose). The
    // repeats of ID (1,2) break the reader's monotonicity, so, as in Go, the client may also
    // drop the connection; it never writes a frame.
    for (int i = 0; i < 5; ++i) c.server.Write({F(Kind::kCloseSend, 1, 2)}).IgnoreError();
    absl::StatusOr<RawFrame> late = c.server.ReadFrame(Duration::Millis(5));
    c.sim.Check(!late.ok(), absl::StrCat("client answered a late CloseSend: ", late.ok() ? late->ToString() : ""));
    c.server.Close();
    c.sim.Check(c.conn.closed().Wait("closed", env.clock().Now() + Duration::Seconds(1)),
                "closed() did not fire after the server closed the transport");
  }));
}

TEST(UpstreamClientTest, StreamingInvokeIsCorkedUntilTheFirstSend) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check(s.ok(), s.status().ToString());
    c.sim.Check(c.server.Silent(Duration::Millis(10)) && c.writes->empty(),
                "NewStream must not write anything");
    c.sim.Check((*s)->Send("m0").ok(), "send");
    SleepFor(c.sim.env(), Duration::Millis(1));  // the sender waits: what it sent goes out
    c.sim.Check(c.writes->size() == 1, "one write");
    ExpectFrames(c.sim, "first write", (*c.writes)[0],
                 {F(Kind::kInvoke, 1, 1, "/pkg.Svc/Bidi"), F(Kind::kMessage, 1, 2, "m0")});
    c.sim.Check((*s)->Send("m1").ok() && (*s)->CloseSend().ok(), "send, close send");
    c.sim.Check(c.writes->size() == 2, "two writes");
    ExpectFrames(c.sim, "second write", (*c.writes)[1],
                 {F(Kind::kMessage, 1, 3, "m1"), F(Kind::kCloseSend, 1, 4)});
    (*s)->Close().IgnoreError();
  }));
}

TEST(UpstreamClientTest, MessagesSentInARowLeaveInOneWriteWhenTheSenderWaits) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check(s.ok(), s.status().ToString());
    for (const char* m : {"m0", "m1", "m2"}) c.sim.Check((*s)->Send(m).ok(), "send");
    c.sim.Check(c.writes->empty(), "the sender has not waited yet: nothing written");
    SleepFor(c.sim.env(), Duration::Millis(1));
    c.sim.Check(c.writes->size() == 1, "one write for the three messages");
    ExpectFrames(c.sim, "the write", (*c.writes)[0],
                 {F(Kind::kInvoke, 1, 1, "/pkg.Svc/Bidi"), F(Kind::kMessage, 1, 2, "m0"),
                  F(Kind::kMessage, 1, 3, "m1"), F(Kind::kMessage, 1, 4, "m2")});
    // A lone message leaves as soon as its sender waits for anything, here for the reply.
    c.sim.Check((*s)->Send("m3").ok(), "send");
    RawFrame m0 = Read(c);
    c.sim.Check(m0 == F(Kind::kInvoke, 1, 1, "/pkg.Svc/Bidi"), m0.ToString());
    for (int i = 0; i < 3; ++i) Read(c);
    RawFrame m3 = Read(c);
    c.sim.Check(m3 == F(Kind::kMessage, 1, 5, "m3"), m3.ToString());
    (*s)->Close().IgnoreError();
  }));
}

TEST(UpstreamClientTest, FirstRecvFlushesACorkedInvoke) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/ServerStream");
    absl::StatusOr<std::string> got;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("receiver", [&] {
      got = (*s)->Recv();
      done.Set();
    }));
    RawFrame invoke = Read(c);
    c.sim.Check(invoke == F(Kind::kInvoke, 1, 1, "/pkg.Svc/ServerStream"), invoke.ToString());
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, "r0")}).ok(), "reply");
    done.Wait("receiver");
    c.sim.Check(got.ok() && *got == "r0", got.status().ToString());
    (*s)->Close().IgnoreError();
  }));
}

TEST(UpstreamClientTest, LargeMessageIsSplitIntoSixtyFourKiBFrames) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    const std::string big(70000, 'x');
    c.sim.Check((*s)->Send(big).ok(), "send");
    Read(c);  // Invoke
    RawFrame first = Read(c), second = Read(c);
    c.sim.Check(!first.done && first.data.size() == 65536 && first.id == PacketId{1, 2},
                first.ToString());
    c.sim.Check(second.done && second.data.size() == 4464 && second.id == PacketId{1, 2},
                second.ToString());
    c.sim.Check(absl::StrContains((*c.writes)[0], absl::HexStringToBytes("040102808004")) &&
                    absl::StrContains((*c.writes)[0], absl::HexStringToBytes("050102F022")),
                "frame headers differ from Go's");
    (*s)->Close().IgnoreError();
  }));
}

// Large messages go out through Transport::WriteV (no copy into the write buffer): still the
// buffered bytes and the whole packet in one write, byte for byte what AppendPacket produces,
// for a corked Invoke + message and for a message after small buffered ones.
TEST(UpstreamClientTest, LargeMessagesAreOneWriteOfExactlyTheSplitFrames) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    std::string big(200000, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
    c.sim.Check((*s)->Send(big).ok(), "send big");
    std::string want;
    AppendPacket(want, PacketId{1, 1}, Kind::kInvoke, "/pkg.Svc/Bidi", false, 65536);
    AppendPacket(want, PacketId{1, 2}, Kind::kMessage, big, false, 65536);
    c.sim.Check(c.writes->size() == 1 && (*c.writes)[0] == want,
                "Invoke + the 200000-byte message must be one write of the split frames");
    // SendLast buffers its message without flushing: a full-frame message fills the 4 KiB buffer,
    // so it leaves at once (as before, by WriteV now), and the CloseSend after it.
    const std::string exact(65536, 'y');
    c.sim.Check((*s)->SendLast(exact).ok(), "send last 64 KiB");
    want.clear();
    AppendPacket(want, PacketId{1, 3}, Kind::kMessage, exact, false, 65536);
    c.sim.Check(c.writes->size() == 3 && (*c.writes)[1] == want,
                "the 64 KiB message must be one write of its frame");
    ExpectFrames(c.sim, "third write", (*c.writes)[2], {F(Kind::kCloseSend, 1, 4)});
    for (int i = 0; i < 1 + 4 + 1 + 1; ++i) Read(c);
    (*s)->Close().IgnoreError();
  }));
}

TEST(UpstreamClientTest, SoftCancelSendsControlCancelAndKeepsTheConnection) {
  Options o;
  o.soft_cancel = true;
  ExpectOk(RunClient(o, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Slow", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) Read(c);  // Invoke, Message, CloseSend
    ctx.Cancel();
    done.Wait("caller");
    c.sim.Check(absl::IsCancelled(reply.status()) && reply.status().message() == "context canceled",
                reply.status().ToString());
    RawFrame cancel = Read(c);
    c.sim.Check(Encode({cancel}) == absl::HexStringToBytes("89010400"),
                absl::StrCat("want Go's soft cancel 89 01 04 00, got ", cancel.ToString()));
    // The connection stays usable: the next call is stream 2.
    CallContext next(env);
    Signal done2(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller 2", [&] {
      reply = c.conn.Invoke(next, "/interop.Echo/Unary", "again");
      done2.Set();
    }));
    RawFrame invoke = Read(c);
    c.sim.Check(invoke == F(Kind::kInvoke, 2, 1, "/interop.Echo/Unary"), invoke.ToString());
    Read(c);
    Read(c);
    c.sim.Check(c.server.Write({F(Kind::kMessage, 2, 1, "again"), F(Kind::kCloseSend, 2, 2)}).ok(), "w");
    done2.Wait("caller 2");
    c.sim.Check(reply.ok() && *reply == "again", reply.status().ToString());
  }));
}

TEST(UpstreamClientTest, HardCancelClosesTheTransportAndSendsNothing) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Slow", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) Read(c);
    ctx.Cancel();
    done.Wait("caller");
    c.sim.Check(absl::IsCancelled(reply.status()), reply.status().ToString());
    absl::StatusOr<std::vector<RawFrame>> rest = c.server.ReadUntilClosed();
    c.sim.Check(rest.ok() && rest->empty(), "a hard cancel must just close the connection");
    CallContext next(env);
    absl::StatusOr<std::string> after = c.conn.Invoke(next, "/interop.Echo/Unary", "x");
    c.sim.Check(IsClosed(after.status()), absl::StrCat("after: ", after.status().ToString()));
  }));
}

// Found by the simulator (race.upstream.cancel_vs_close): a stream between operations finishes
// the moment it is cancelled, and the connection used to stay open with the server still inside
// the call, waiting for a message that never came.
TEST(UpstreamClientTest, HardCancelOfAnIdleStreamStillClosesTheConnection) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/interop.Echo/ClientStream");
    c.sim.Check(s.ok() && (*s)->Send("one").ok(), "send");
    for (int i = 0; i < 2; ++i) Read(c);  // Invoke and Message are on the wire; nothing runs
    ctx.Cancel();
    absl::StatusOr<std::vector<RawFrame>> rest = c.server.ReadUntilClosed();
    c.sim.Check(rest.ok() && rest->empty(), "a hard cancel must close the connection");
    c.sim.Check(c.conn.closed().IsSet(), "the client's connection must have ended");
  }));
}

// Found by the simulator (fault.every_offset.mux seed 59): a reply that arrived whole just before
// the connection ended was dropped, and the call reported EOF.
TEST(UpstreamClientTest, MessagesReceivedBeforeTheConnectionEndedAreStillDelivered) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/interop.Echo/Bidi");
    c.sim.Check(s.ok() && (*s)->Send("ping").ok(), "send");
    for (int i = 0; i < 2; ++i) Read(c);
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, "pong")}).ok(), "reply");
    c.server.Close();
    c.sim.Check(c.conn.closed().Wait("closed", env.clock().Now() + Duration::Seconds(1)),
                "the connection did not end");
    absl::StatusOr<std::string> got = (*s)->Recv();
    c.sim.Check(got.ok() && *got == "pong", absl::StrCat("reply lost: ", got.status().ToString()));
    absl::StatusOr<std::string> end = (*s)->Recv();
    c.sim.Check(IsClosed(end.status()), absl::StrCat("then the connection's end: ", end.status().ToString()));
  }));
}

TEST(UpstreamClientTest, CallOnDoneContextFailsBeforeAnythingIsSent) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    ctx.Cancel();
    absl::StatusOr<std::string> reply = c.conn.Invoke(ctx, "/interop.Echo/Unary", "x");
    c.sim.Check(absl::IsCancelled(reply.status()), reply.status().ToString());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/interop.Echo/Bidi");
    c.sim.Check(absl::IsCancelled(s.status()), s.status().ToString());
    c.sim.Check(c.server.Silent(Duration::Millis(10)) && c.writes->empty(), "bytes were sent");
  }));
}

TEST(UpstreamClientTest, DeadlineEndsACallWithDeadlineExceeded) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    ctx.SetTimeout(Duration::Millis(20));
    const Instant start = c.sim.now();
    absl::StatusOr<std::string> reply = c.conn.Invoke(ctx, "/interop.Echo/Slow", "x");
    c.sim.Check(absl::IsDeadlineExceeded(reply.status()) &&
                    reply.status().message() == "context deadline exceeded",
                reply.status().ToString());
    c.sim.Check(c.sim.now() - start == Duration::Millis(20), "deadline fired at the wrong time");
  }));
}

TEST(UpstreamClientTest, RemoteErrorCarriesCodeAndTextAndNoCloseFollows) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Fail", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) Read(c);
    c.sim.Check(c.server.WriteBytes(absl::HexStringToBytes("0701010C000000000000000C626F6F6D")).ok(), "w");
    done.Wait("caller");
    c.sim.Check(reply.status().message() == "boom" && RemoteErrorCode(reply.status()) == 12u &&
                    absl::IsUnimplemented(reply.status()),
                reply.status().ToString());
    c.sim.Check(c.server.Silent(Duration::Millis(10)), "the client must not Close after an Error");
  }));
}

TEST(UpstreamClientTest, ShortErrorBodyGetsGosNote) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Fail", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) Read(c);
    c.sim.Check(c.server.Write({F(Kind::kError, 1, 1, "abc")}).ok(), "w");
    done.Wait("caller");
    c.sim.Check(reply.status().message() == "abc (drpcwire note: invalid error data)" &&
                    RemoteErrorCode(reply.status()) == 0u,
                reply.status().ToString());
  }));
}

TEST(UpstreamClientTest, NilUnaryResponseIsEof) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Unary", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) Read(c);
    c.sim.Check(c.server.Write({F(Kind::kCloseSend, 1, 1)}).ok(), "w");
    done.Wait("caller");
    c.sim.Check(IsEof(reply.status()), reply.status().ToString());
  }));
}

TEST(UpstreamClientTest, AfterRemoteCloseRecvIsEofSendIsClosedAndCloseSendsNothing) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s)->Send("a").ok(), "send");
    Read(c);
    Read(c);
    c.sim.Check(c.server.Write({F(Kind::kClose, 1, 1)}).ok(), "w");
    c.sim.Check(IsEof((*s)->Recv().status()), "Recv after remote Close must be EOF");
    absl::Status send = (*s)->Send("b");
    c.sim.Check(send.message() == "closed: remote closed the stream" && IsClosed(send),
                send.ToString());
    c.sim.Check((*s)->Close().ok(), "close");
    c.sim.Check(c.server.Silent(Duration::Millis(10)), "Close after remote Close sent bytes");
  }));
}

TEST(UpstreamClientTest, LateFramesForAnOlderStreamAreIgnored) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s1 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s1)->Send("a").ok(), "send");
    Read(c);  // Invoke(1,1)
    Read(c);  // Message(1,2)
    (*s1)->Close().IgnoreError();
    Read(c);  // Close(1,3)
    absl::StatusOr<std::shared_ptr<RpcStream>> s2 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s2)->Send("x").ok(), "send");
    Read(c);
    Read(c);
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 9, "stale"), F(Kind::kMessage, 2, 1, "fresh")}).ok(), "w");
    absl::StatusOr<std::string> got = (*s2)->Recv();
    c.sim.Check(got.ok() && *got == "fresh", got.status().ToString());
    (*s2)->Close().IgnoreError();
  }));
}

// Go holds such a packet until the client creates the stream (E14); we drop it, because nothing
// guarantees the client ever will (docs/protocol.md §13: never block the reader on an unknown stream).
TEST(UpstreamClientTest, PacketForAStreamNotYetCreatedIsDropped) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s1 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s1)->Send("x").ok(), "send");
    Read(c);
    Read(c);
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, "mine"), F(Kind::kMessage, 2, 1, "early")}).ok(), "w");
    absl::StatusOr<std::string> got = (*s1)->Recv();
    c.sim.Check(got.ok() && *got == "mine", got.status().ToString());
    (*s1)->Close().IgnoreError();
    absl::StatusOr<std::shared_ptr<RpcStream>> s2 = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s2)->Send("y").ok(), "send 2");
    c.sim.Check(c.server.Write({F(Kind::kMessage, 2, 2, "real")}).ok(), "w");
    absl::StatusOr<std::string> got2 = (*s2)->Recv();
    c.sim.Check(got2.ok() && *got2 == "real", absl::StrCat("stale early packet delivered: ", got2.value_or("")));
    (*s2)->Close().IgnoreError();
  }));
}

// docs/protocol.md §13 item 4: a Go client wedges when a server sends it an Invoke; ours ends the connection.
TEST(UpstreamClientTest, InvokeFromTheServerIsAProtocolErrorNotAHang) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    c.sim.Check(c.server.Write({F(Kind::kInvoke, 5, 1, "/x/Y")}).ok(), "w");
    c.sim.Check(c.conn.closed().Wait("closed", c.sim.now() + Duration::Seconds(1)), "not closed");
    c.sim.Check(IsProtocolError(c.conn.closed().status()), c.conn.closed().status().ToString());
  }));
}

// docs/protocol.md §13 item 11: a client whose server went away sees "closed", not "canceled".
TEST(UpstreamClientTest, ServerGoneIsAClosedErrorNotCanceled) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::string> reply;
    Signal done(env);
    DRPC_CHECK_OK(env.scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/interop.Echo/Unary", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) Read(c);
    c.server.Close();
    done.Wait("caller");
    c.sim.Check(IsClosed(reply.status()) && !absl::IsCancelled(reply.status()),
                reply.status().ToString());
  }));
}

// A call whose writes are blocked on a full transport when the reader ends the connection hears
// why the connection ended, not the "closed locally" its cut-short write saw. (The simulator's
// fault.every_offset.upstream seed 6, in corpus/sim, found the same symptom on the path where the
// connection's flusher, not the call, was the blocked writer.)
TEST(UpstreamClientTest, AWriteCutShortByTheConnectionsEndReportsWhyItEnded) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    Env& env = c.sim.env();
    CallContext ctx(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/interop.Echo/Bidi");
    c.sim.Check(s.ok(), "stream");
    absl::Status sent;
    Signal done(env);
    c.server.PauseReading();
    DRPC_CHECK_OK(env.scheduler().Spawn("sender", [&] {
      // Small messages, buffered and written by the connection's flusher, until the network is
      // full (the peer reads nothing): the flusher's write blocks, and so does a Send.
      const std::string message(1000, 'x');
      for (int i = 0; i < 4096 && sent.ok(); ++i) sent = (*s)->Send(message);
      done.Set();
    }));
    SleepFor(env, Duration::Millis(5), "let the write block");
    c.sim.Check(!done.IsSet(), absl::StrCat("the write should be blocked: ", sent.ToString()));
    // An Invoke from the server: the client's reader ends the connection with a protocol error
    // while the write is still blocked.
    c.sim.Check(c.server.Write({F(Kind::kInvoke, 5, 1, "/x/Y")}).ok(), "write the Invoke");
    done.Wait("sender");
    const absl::Status& ended = c.conn.closed().status();
    c.sim.Check(IsClosed(sent) && !absl::StrContains(sent.message(), "write failed") &&
                    absl::StrContains(sent.message(), ended.message()),
                absl::StrCat("Send: ", sent.ToString(), "; the connection ended: ", ended.ToString()));
  }));
}

}  // namespace
}  // namespace drpc
