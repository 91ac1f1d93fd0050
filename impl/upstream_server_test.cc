// Upstream mode, server side, driven by a raw client (docs/protocol.md §5, §7.3, §8.2, §9.3, §12.3, §12.7
// E4–E12, §13 items 1–3, and the raw_* Go captures).
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "sim/testing/harness.h"
#include "sim/testing/expect.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "proto/error_codec.h"
#include "proto/metadata.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::Encode;
using testing::F;
using testing::RawFrame;
using testing::RunServer;
using testing::ServerSide;

std::vector<RawFrame> Unary(uint64_t stream, const std::string& rpc, const std::string& body) {
  return {F(Kind::kInvoke, stream, 1, rpc), F(Kind::kMessage, stream, 2, body),
          F(Kind::kCloseSend, stream, 3)};
}

void Send(ServerSide& s, const std::vector<RawFrame>& frames) {
  s.sim.Check(s.client.WriteBytes(Encode(frames)).ok(), "raw client write failed");
}

RawFrame Read(ServerSide& s) {
  absl::StatusOr<RawFrame> f = s.client.ReadFrame();
  s.sim.Check(f.ok(), absl::StrCat("expected a frame: ", f.status().ToString()));
  return *f;
}

void ExpectReply(ServerSide& s, uint64_t stream, const std::string& body) {
  RawFrame m = Read(s);
  RawFrame cs = Read(s);
  s.sim.Check(m == F(Kind::kMessage, stream, 1, body) && cs == F(Kind::kCloseSend, stream, 2),
              absl::StrCat("reply on stream ", stream, ": ", m.ToString(), ", ", cs.ToString()));
}

// Connection closed by the server without it sending anything more.
void ExpectClosedSilently(ServerSide& s) {
  absl::StatusOr<std::vector<RawFrame>> rest = s.client.ReadUntilClosed();
  s.sim.Check(rest.ok(), "the server did not close the connection");
  s.sim.Check(rest->empty(), absl::StrCat("the server sent ", rest->size(), " frame(s) first: ",
                                          rest->empty() ? "" : (*rest)[0].ToString()));
}

// A handler's SendLast that waits for the write lock while the client's Cancel ends its stream
// still writes its message at once: the CloseSend that would have written it is then a no-op, and
// a message left in the buffer would hold it for ever (race.upstream.cancel_vs_final_message
// 200507, the server's leak check).
TEST(UpstreamServerTest, SendLastWhoseStreamEndedWhileWaitingForTheLockLeavesNothingBuffered) {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi("/t.T/Final", [](CallContext& call, RpcStream& stream) {
    DRPC_CHECK_OK(stream.Send(std::string(200, 'y')));   // the flusher's write of it blocks
    SleepFor(call.env(), Duration::Millis(1));
    stream.SendLast("final").IgnoreError();  // waits for the lock; the Cancel comes meanwhile
    return absl::OkStatus();
  }));
  sim::NetworkOptions net;
  net.link.buffer_bytes = 16;
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Env& env = s.sim.env();
    s.client.PauseReading();
    Send(s, {F(Kind::kInvoke, 1, 1, "/t.T/Final")});
    SleepFor(env, Duration::Millis(3));
    RawFrame cancel = F(Kind::kCancel, 1, 2);
    cancel.control = true;
    Send(s, {cancel});
    SleepFor(env, Duration::Millis(1));
    s.client.ResumeReading();
    SleepFor(env, Duration::Millis(5));
    s.sim.Check(s.server.usage().queued_writes == 0, "the final message stayed in the buffer");
  }, 1, &router, net));
}

// raw_unary_golden: exact reply bytes 05 01 01 04 "ping" 0d 01 02 00.
TEST(UpstreamServerTest, UnaryReplyIsGosBytes) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(1, "/interop.Echo/Unary", "ping"));
    RawFrame m = Read(s), cs = Read(s);
    s.sim.Check(Encode({m, cs}) == absl::HexStringToBytes("05010104") + "ping" +
                                       absl::HexStringToBytes("0D010200"),
                "reply bytes differ from Go's");
  }));
}

// A unary or client-stream reply and its CloseSend leave in one transport write: one system call
// per reply instead of two, and the client never sees the reply without the end of the stream.
TEST(UpstreamServerTest, ReplyAndCloseSendAreOneWrite) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(1, "/interop.Echo/Unary", "ping"));
    ExpectReply(s, 1, "ping");
    s.sim.Check(s.writes->size() == 1, absl::StrCat(s.writes->size(), " writes for one reply"));
    testing::ExpectFrames(s.sim, "unary reply write", s.writes->back(),
                          {F(Kind::kMessage, 1, 1, "ping"), F(Kind::kCloseSend, 1, 2)});
    Send(s, {F(Kind::kInvoke, 3, 1, "/interop.Echo/ClientStream"), F(Kind::kMessage, 3, 2, "a"),
             F(Kind::kMessage, 3, 3, "bc"), F(Kind::kCloseSend, 3, 4)});
    RawFrame m = Read(s);
    RawFrame cs = Read(s);
    s.sim.Check(m.kind == Kind::kMessage && cs == F(Kind::kCloseSend, 3, 2),
                absl::StrCat("client-stream reply: ", m.ToString(), ", ", cs.ToString()));
    s.sim.Check(s.writes->size() == 2, absl::StrCat(s.writes->size(), " writes for two replies"));
    testing::ExpectFrames(s.sim, "client-stream reply write", s.writes->back(), {m, cs});
  }));
}

TEST(UpstreamServerTest, TrailingCloseForAFinishedStreamIsAccepted) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(1, "/interop.Echo/Unary", "a"));
    ExpectReply(s, 1, "a");
    Send(s, {F(Kind::kClose, 1, 4)});
    Send(s, Unary(2, "/interop.Echo/Unary", "b"));
    ExpectReply(s, 2, "b");
  }));
}

TEST(UpstreamServerTest, HandlerErrorIsAnErrorPacketWithoutCloseSend) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(1, "/interop.Echo/Fail", "x"));
    RawFrame e = Read(s);
    s.sim.Check(Encode({e}) == absl::HexStringToBytes("0701010C000000000000002A626F6F6D"),
                absl::StrCat("want Go's error bytes, got ", e.ToString()));
    Send(s, Unary(2, "/interop.Echo/Unary", "after-fail"));
    ExpectReply(s, 2, "after-fail");  // no CloseSend for stream 1 came in between
  }));
}

TEST(UpstreamServerTest, ServerStreamOfZeroIsJustCloseSend) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(1, "/interop.Echo/ServerStream", "0"));
    RawFrame cs = Read(s);
    s.sim.Check(cs == F(Kind::kCloseSend, 1, 1), cs.ToString());
  }));
}

// raw_pipelined_invoke: a new Invoke silently cancels the stream before it.
TEST(UpstreamServerTest, NewInvokeCancelsThePreviousStream) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, {F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"), F(Kind::kMessage, 1, 2, "one")});
    RawFrame echo = Read(s);
    s.sim.Check(echo == F(Kind::kMessage, 1, 1, "one"), echo.ToString());
    Send(s, Unary(2, "/interop.Echo/Unary", "two"));
    ExpectReply(s, 2, "two");
    s.sim.Check(s.client.Silent(Duration::Millis(10)), "the server wrote more for stream 1");
  }));
}

// raw_id_regression / E11: a lower stream ID kills the connection, nothing is sent.
TEST(UpstreamServerTest, LowerStreamIdClosesTheConnectionSilently) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(2, "/interop.Echo/Unary", "first"));
    ExpectReply(s, 2, "first");
    Send(s, Unary(1, "/interop.Echo/Unary", "regress"));
    ExpectClosedSilently(s);
  }));
}

// raw_unknown_control_kind / E7: an unknown kind with the control bit is ignored.
TEST(UpstreamServerTest, UnknownKindWithControlBitIsIgnored) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    s.sim.Check(s.client.WriteBytes(Encode({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary")}) +
                                    absl::HexStringToBytes("A901020" "13F") +
                                    Encode({F(Kind::kMessage, 1, 3, "x"), F(Kind::kCloseSend, 1, 4)}))
                    .ok(),
                "w");
    ExpectReply(s, 1, "x");
  }));
}

// raw_unknown_kind / E7: the same frame without the control bit ends the connection.
TEST(UpstreamServerTest, UnknownKindWithoutControlBitClosesTheConnection) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    s.sim.Check(s.client.WriteBytes(Encode({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary")}) +
                                    absl::HexStringToBytes("290102013F") +
                                    Encode({F(Kind::kMessage, 1, 3, "x"), F(Kind::kCloseSend, 1, 4)}))
                    .ok(),
                "w");
    ExpectClosedSilently(s);
  }));
}

// E6: message ID 0 is accepted on a stream after the first.
TEST(UpstreamServerTest, MessageIdZeroIsAcceptedOnALaterStream) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, Unary(1, "/interop.Echo/Unary", "a"));
    ExpectReply(s, 1, "a");
    Send(s, {F(Kind::kInvoke, 2, 0, "/interop.Echo/Unary"), F(Kind::kMessage, 2, 1, "b"),
             F(Kind::kCloseSend, 2, 2)});
    ExpectReply(s, 2, "b");
  }));
}

// E8 / docs/protocol.md §13 item 1: Go's server wedges on a non-Invoke packet for a new stream (e.g. the
// Go client's stray Close after an encode failure); ours drops it and serves the next call.
TEST(UpstreamServerTest, StrayPacketForANewStreamIsDroppedNotAHang) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, {F(Kind::kClose, 1, 1)});
    Send(s, {F(Kind::kMessage, 2, 1, "orphan")});
    Send(s, Unary(3, "/interop.Echo/Unary", "next"));
    ExpectReply(s, 3, "next");
  }));
}

// E9: InvokeMetadata on an existing stream ends the connection.
TEST(UpstreamServerTest, InvokeMetadataOnAnExistingStreamClosesTheConnection) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, {F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"),
             F(Kind::kInvokeMetadata, 1, 2, EncodeMetadata({{"k", "v"}}))});
    ExpectClosedSilently(s);
  }));
}

// E10: metadata for another stream ID is dropped; a stream may start at ID 5.
TEST(UpstreamServerTest, MetadataForAnotherStreamIsDroppedAndStreamsMayStartAtFive) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, {F(Kind::kInvokeMetadata, 4, 1, EncodeMetadata({{"k", "v"}})),
             F(Kind::kInvoke, 5, 1, "/interop.Echo/Meta"), F(Kind::kMessage, 5, 2, ""),
             F(Kind::kCloseSend, 5, 3)});
    ExpectReply(s, 5, "");
    Send(s, {F(Kind::kInvokeMetadata, 6, 1, EncodeMetadata({{"k", "v"}})),
             F(Kind::kInvoke, 6, 2, "/interop.Echo/Meta"), F(Kind::kMessage, 6, 3, ""),
             F(Kind::kCloseSend, 6, 4)});
    ExpectReply(s, 6, "k=v");
  }));
}

// E12: undecodable metadata closes the connection without an Error packet.
TEST(UpstreamServerTest, BadMetadataClosesTheConnectionWithoutAnError) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, {F(Kind::kInvokeMetadata, 1, 1, absl::HexStringToBytes("0A05") + "junk")});
    ExpectClosedSilently(s);
  }));
}

// E4: a soft Cancel ends the handler (its Recv sees Canceled), the server sends nothing for that
// stream, and the next call works.
TEST(UpstreamServerTest, SoftCancelEndsTheHandlerAndTheConnectionLives) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    Send(s, {F(Kind::kInvoke, 1, 1, "/interop.Echo/Slow"), F(Kind::kMessage, 1, 2, "x"),
             F(Kind::kCloseSend, 1, 3)});
    s.sim.Check(s.client.Silent(Duration::Millis(10)), "Slow answered early");
    RawFrame cancel = F(Kind::kCancel, 1, 4);
    cancel.control = true;
    s.sim.Check(s.client.Write({cancel}).ok(), "w");
    Send(s, Unary(2, "/interop.Echo/Unary", "after"));
    ExpectReply(s, 2, "after");
  }));
}

// docs/protocol.md §13 item 2: a handler that returns without reading its client stream must not stall the
// connection (Go's reader blocks on the unread message for ever).
TEST(UpstreamServerTest, UnreadClientMessagesDoNotStallTheNextCall) {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.ClientStream("/t.T/ReadOne",
                                    [](CallContext&, RpcStream& s) -> absl::StatusOr<std::string> {
                                      absl::StatusOr<std::string> first = s.Recv();
                                      if (!first.ok()) return first.status();
                                      return std::string("read one");
                                    }));
  Options o;
  o.recv_queue_max_count = 4;
  ExpectOk(RunServer(o, [](ServerSide& s) {
    std::vector<RawFrame> frames = {F(Kind::kInvoke, 1, 1, "/t.T/ReadOne")};
    for (uint64_t m = 2; m < 40; ++m) frames.push_back(F(Kind::kMessage, 1, m, "payload"));
    Send(s, frames);
    ExpectReply(s, 1, "read one");
    Send(s, {F(Kind::kMessage, 1, 40, "more"), F(Kind::kCloseSend, 1, 41)});
    Send(s, Unary(2, "/interop.Echo/Unary", "next"));
    ExpectReply(s, 2, "next");
  }, 1, &router));
}

// docs/protocol.md §13 items 2 and 3: a handler that waits on its context without reading, sent more
// messages than its queue holds (256 by default), then a soft Cancel and the next call. Go's reader
// blocks on the unread message for ever, so neither the Cancel nor the next Invoke is ever read.
// Ours waits recv_stall_timeout (10 s), fails the stream with an Error, drops the rest of it
// (the Cancel included) and serves the next call.
TEST(UpstreamServerTest, SoftCancelReachesAHandlerThatIsNotReading) {
  Router router;
  DRPC_CHECK_OK(router.Bidi("/t.T/Ignore", [](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("handler ignoring its stream");
    return ctx.err();
  }));
  DRPC_CHECK_OK(router.Unary("/t.T/Unary",
                             [](CallContext&, absl::string_view r) -> absl::StatusOr<std::string> {
                               return std::string(r);
                             }));
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    const Instant start = s.sim.now();
    std::vector<RawFrame> frames = {F(Kind::kInvoke, 1, 1, "/t.T/Ignore")};
    for (uint64_t m = 2; m < 302; ++m) frames.push_back(F(Kind::kMessage, 1, m, "unread"));
    RawFrame cancel = F(Kind::kCancel, 1, 302);
    cancel.control = true;
    frames.push_back(cancel);
    Send(s, frames);
    Send(s, {F(Kind::kInvoke, 2, 1, "/t.T/Unary"), F(Kind::kMessage, 2, 2, "ok"),
             F(Kind::kCloseSend, 2, 3)});
    absl::StatusOr<RawFrame> error = s.client.ReadFrame(Duration::Seconds(30));
    const RawFrame want = F(Kind::kError, 1, 1,
                            EncodeError(8, "receive queue full for 10s: the application is not "
                                           "reading stream 1"));
    s.sim.Check(error.ok() && *error == want,
                absl::StrCat("want ", want.ToString(), ", got ",
                             error.ok() ? error->ToString() : error.status().ToString()));
    s.sim.Check(s.sim.now() - start >= Duration::Seconds(10), "failed before the stall timeout");
    ExpectReply(s, 2, "ok");
  }, 1, &router));
}

// TestTimeout: InactivityTimeout bounds the wait for an Invoke.
TEST(UpstreamServerTest, InactivityTimeoutClosesAnIdleConnection) {
  Options o;
  o.inactivity_timeout = Duration::Millis(50);
  ExpectOk(RunServer(o, [](ServerSide& s) {
    const Instant start = s.sim.now();
    ExpectClosedSilently(s);
    s.sim.Check(s.sim.now() - start == Duration::Millis(50), "closed at the wrong time");
    s.served.Wait("ServeConn");
    s.sim.Check(absl::IsDeadlineExceeded(s.served.status()), s.served.status().ToString());
  }));
}

TEST(UpstreamServerTest, InvokeAndMetadataSplitAcrossFramesAreAssembled) {
  ExpectOk(RunServer(Options{}, [](ServerSide& s) {
    const std::string md = EncodeMetadata({{"alpha", "1"}});
    RawFrame md1{PacketId{1, 1}, Kind::kInvokeMetadata, false, false, md.substr(0, 3)};
    RawFrame md2{PacketId{1, 1}, Kind::kInvokeMetadata, true, false, md.substr(3)};
    RawFrame inv1{PacketId{1, 2}, Kind::kInvoke, false, false, "/interop.Echo"};
    RawFrame inv2{PacketId{1, 2}, Kind::kInvoke, true, false, "/Meta"};
    Send(s, {md1, md2, inv1, inv2, F(Kind::kMessage, 1, 3, ""), F(Kind::kCloseSend, 1, 4)});
    ExpectReply(s, 1, "alpha=1");
  }));
}

}  // namespace
}  // namespace drpc
