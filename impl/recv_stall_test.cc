// The receive-stall policy (impl/stream.h, docs/protocol.md §13 items 2 and 3): the connection's reader waits
// for a full receive queue at most recv_stall_timeout; then the stream fails with
// ResourceExhausted, the peer is told (server: Error; client: Cancel, or with a hard-cancel
// upstream connection the transport is closed), later packets of the stream are dropped and the
// reader goes on. An application that keeps reading, however slowly, is never failed.
#include <string>
#include <vector>

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
#include "proto/error_codec.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::ClientSide;
using testing::F;
using testing::Pair;
using testing::RawFrame;
using testing::RunClient;
using testing::RunPair;
using testing::RunServer;
using testing::ServerSide;

std::string StallText(uint64_t stream) {
  return absl::StrCat("receive queue full for 10s: the application is not reading stream ",
                      stream);
}

RawFrame Read(sim::SimContext& sim, testing::RawPeer& peer, Duration timeout) {
  absl::StatusOr<RawFrame> f = peer.ReadFrame(timeout);
  sim.Check(f.ok(), absl::StrCat("expected a frame: ", f.status().ToString()));
  return *f;
}

Router IgnoringRouter() {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi("/t.T/Ignore", [](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("handler ignoring its stream");
    return ctx.err();
  }));
  return router;
}

// Mux server without flow control (so the stream has a bounded queue): the stalled stream fails
// with an abortive Error (control bit, the fork's body), the stream behind it is served.
TEST(RecvStallTest, MuxServerFailsAStreamNobodyReadsAndServesTheNextOne) {
  const Router router = IgnoringRouter();
  ExpectOk(RunServer(testing::MuxOptions(), [](ServerSide& s) {
    const Instant start = s.sim.now();
    std::vector<RawFrame> frames = {F(Kind::kInvoke, 1, 1, "/t.T/Ignore")};
    for (uint64_t m = 2; m < 302; ++m) frames.push_back(F(Kind::kMessage, 1, m, "unread"));
    frames.push_back(F(Kind::kInvoke, 2, 1, "/interop.Echo/Unary"));
    frames.push_back(F(Kind::kMessage, 2, 2, "next"));
    frames.push_back(F(Kind::kCloseSend, 2, 3));
    s.sim.Check(s.client.WriteBytes(testing::Encode(frames)).ok(), "write");
    const RawFrame error = Read(s.sim, s.client, Duration::Seconds(30));
    RawFrame want = F(Kind::kError, 1, 1, EncodeErrorBody(ErrorFormat::kGrpcStatus, {8, StallText(1)}));
    want.control = true;
    s.sim.Check(error == want, error.ToString());
    s.sim.Check(s.sim.now() - start >= Duration::Seconds(10), "failed before the timeout");
    const RawFrame reply = Read(s.sim, s.client, Duration::Seconds(1));
    s.sim.Check(reply == F(Kind::kMessage, 2, 1, "next"), reply.ToString());
  }, 1, &router));
}

// Our upstream client with soft_cancel: the application never reads a server stream; after the
// stall timeout a Cancel goes out, Recv reports the stall, and the connection serves the next call.
TEST(RecvStallTest, UpstreamClientSoftCancelsAStreamItsApplicationDoesNotRead) {
  Options o;
  o.soft_cancel = true;
  ExpectOk(RunClient(o, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s)->Send("go").ok(), "send");
    Read(c.sim, c.server, Duration::Seconds(1));  // Invoke(1,1)
    Read(c.sim, c.server, Duration::Seconds(1));  // Message(1,2)
    std::vector<RawFrame> flood;
    for (uint64_t m = 1; m <= 300; ++m) flood.push_back(F(Kind::kMessage, 1, m, "x"));
    c.sim.Check(c.server.WriteBytes(testing::Encode(flood)).ok(), "flood");
    RawFrame cancel = Read(c.sim, c.server, Duration::Seconds(30));
    RawFrame want = F(Kind::kCancel, 1, 3);
    want.control = true;
    c.sim.Check(cancel == want, cancel.ToString());
    absl::Status recv = (*s)->Recv().status();
    c.sim.Check(absl::IsResourceExhausted(recv) && recv.message() == StallText(1),
                recv.ToString());
    (*s)->Close().IgnoreError();
    absl::StatusOr<std::shared_ptr<RpcStream>> next = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check(next.ok() && (*next)->Send("again").ok(), "next stream");
    const RawFrame invoke = Read(c.sim, c.server, Duration::Seconds(1));
    c.sim.Check(invoke == F(Kind::kInvoke, 2, 1, "/pkg.Svc/Bidi"), invoke.ToString());
    (*next)->Close().IgnoreError();
  }));
}

// The same with the default hard cancel: the connection is closed, nothing is sent.
TEST(RecvStallTest, UpstreamClientWithHardCancelClosesTheConnection) {
  ExpectOk(RunClient(Options{}, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    c.sim.Check((*s)->Send("go").ok(), "send");
    Read(c.sim, c.server, Duration::Seconds(1));
    Read(c.sim, c.server, Duration::Seconds(1));
    std::vector<RawFrame> flood;
    for (uint64_t m = 1; m <= 300; ++m) flood.push_back(F(Kind::kMessage, 1, m, "x"));
    c.sim.Check(c.server.WriteBytes(testing::Encode(flood)).ok(), "flood");
    absl::StatusOr<std::vector<RawFrame>> rest = c.server.ReadUntilClosed(Duration::Seconds(30));
    c.sim.Check(rest.ok() && rest->empty(), "want the connection closed without a frame");
    absl::Status recv = (*s)->Recv().status();
    c.sim.Check(absl::IsResourceExhausted(recv), recv.ToString());
  }));
}

// A mux client without flow control: its stalled stream fails, the server is told with an abortive
// Error (as the fork's receivers tell a sender), the connection lives.
TEST(RecvStallTest, MuxClientFailsAStreamItsApplicationDoesNotRead) {
  Options o = testing::MuxOptions();
  ExpectOk(RunClient(o, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    Read(c.sim, c.server, Duration::Seconds(1));  // Invoke(1,1)
    std::vector<RawFrame> flood;
    for (uint64_t m = 1; m <= 300; ++m) flood.push_back(F(Kind::kMessage, 1, m, "x"));
    c.sim.Check(c.server.WriteBytes(testing::Encode(flood)).ok(), "flood");
    RawFrame error = Read(c.sim, c.server, Duration::Seconds(30));
    RawFrame want = F(Kind::kError, 1, 2, EncodeErrorBody(ErrorFormat::kGrpcStatus, {8, StallText(1)}));
    want.control = true;
    c.sim.Check(error == want, error.ToString());
    c.sim.Check(absl::IsResourceExhausted((*s)->Recv().status()), "Recv after the stall");
    c.sim.Check(!c.conn.closed().IsSet(), "the connection died");
  }));
}

// A consumer that takes one message every 60 ms with a 100 ms stall timeout and a queue of 4:
// the whole call takes far longer than the timeout, yet every wait ends in time.
TEST(RecvStallTest, SlowButProgressingConsumerIsNeverFailed) {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.ClientStream(
      "/t.T/Slow", [](CallContext& ctx, RpcStream& s) -> absl::StatusOr<std::string> {
        int n = 0;
        std::string m;
        for (;;) {
          SleepFor(ctx.env(), Duration::Millis(60));
          absl::Status st = s.RecvInto(&m);
          if (IsEof(st)) return absl::StrCat(n);
          if (!st.ok()) return st;
          ++n;
        }
      }));
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    o.recv_queue_max_count = 4;
    o.recv_stall_timeout = Duration::Millis(100);
    ExpectOk(RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      const Instant start = ctx.now();
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/t.T/Slow");
      for (int i = 0; i < 20; ++i) ctx.Check((*s)->Send("m").ok(), absl::StrCat("send ", i));
      ctx.Check((*s)->CloseSend().ok(), "close send");
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == "20", r.status().ToString());
      ctx.Check(ctx.now() - start > Duration::Seconds(1), "the consumer was not slow");
      (*s)->Close().IgnoreError();
    }, 1, &router));
  }
}

}  // namespace
}  // namespace drpc
