// Mux flow control (docs/protocol.md §11.7, impl/mux_flow.cc): the client's per-stream choice, honoured by
// every mux server; credit counted only once its WindowUpdate is written; data beyond the granted
// window is a stream-scoped error; large messages never deadlock against the window.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/metadata.h"
#include "proto/window.h"

namespace drpc {
namespace {

using testing::F;
using testing::MuxOptions;
using testing::Pair;
using testing::RawFrame;
using testing::RunPair;
using testing::RunServer;
using testing::ServerSide;

void ExpectOk(const sim::RunResult& r, absl::string_view what = "") {
  EXPECT_TRUE(r.ok()) << what << " " << sim::FailureClassName(r.failure) << ": " << r.message
                      << "\n" << r.trace_tail;
}

// Echoes `count` messages of `size` bytes over one bidi stream, alternating send and receive.
void EchoMany(Pair& p, sim::SimContext& ctx, int count, size_t size) {
  absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
  ctx.Check(s.ok(), s.status().ToString());
  for (int i = 0; i < count; ++i) {
    const std::string m(size, static_cast<char>('a' + i % 26));
    ctx.Check((*s)->Send(m).ok(), absl::StrCat("send ", i));
    absl::StatusOr<std::string> r = (*s)->Recv();
    ctx.Check(r.ok() && *r == m, absl::StrCat("echo ", i, ": ", r.status().ToString()));
  }
  ctx.Check((*s)->CloseSend().ok() && IsEof((*s)->Recv().status()), "end");
  (*s)->Close().IgnoreError();
}

// A client with flow control against a server without it (and every other combination): the
// server honours the client's announced window, so nothing waits for WindowUpdates that never
// come. 1 MiB each way, far beyond the 64 KiB initial window.
TEST(MuxFlowTest, MixedFlowControlConfigurationsAllWork) {
  for (bool client_flow : {true, false}) {
    for (bool server_flow : {true, false}) {
      Options client = MuxOptions(), server = MuxOptions();
      client.flow_control = client_flow;
      server.flow_control = server_flow;
      ExpectOk(RunPair(client, server,
                       [](Pair& p, sim::SimContext& ctx) { EchoMany(p, ctx, 100, 10 * 1024); }),
               absl::StrCat("client flow ", client_flow, ", server flow ", server_flow));
    }
  }
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

Options SmallWindowServer() {
  Options o = MuxOptions();
  o.window_bytes = 4096;
  o.window_initial_bytes = 4096;
  return o;
}

RawFrame FlowInvoke(uint64_t stream, const std::string& rpc, std::vector<RawFrame>* out) {
  out->push_back(F(Kind::kInvokeMetadata, stream, 1,
                   EncodeMetadata({{kFlowWindowMetadataKey, "4096"}})));
  return F(Kind::kInvoke, stream, 2, rpc);
}

// A hostile client announces a window, then sends more than it was granted: the consumed but
// not yet granted bytes do not count, the stream fails with a stream-scoped flow-control Error,
// and the connection keeps serving.
TEST(MuxFlowTest, PeerSendingBeyondTheGrantedWindowGetsAStreamScopedError) {
  const Router router = ReadOneThenWait();
  ExpectOk(RunServer(SmallWindowServer(), [](ServerSide& s) {
    std::vector<RawFrame> frames;
    frames.push_back(FlowInvoke(1, "/t.T/ReadOne", &frames));
    frames.push_back(F(Kind::kMessage, 1, 3, std::string(1000, 'a')));  // charge 1001, consumed
    s.sim.Check(s.client.WriteBytes(testing::Encode(frames)).ok(), "write");
    SleepFor(s.sim.env(), Duration::Millis(5));  // the handler took it; no grant was written
    // 4096 - 1001 = 3095 bytes of window are left; 3501 is too much.
    s.sim.Check(s.client.Write({F(Kind::kMessage, 1, 4, std::string(3500, 'b'))}).ok(), "w");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame();
    s.sim.Check(error.ok() && error->kind == Kind::kError && error->id == PacketId{1, 1},
                error.ok() ? error->ToString() : error.status().ToString());
    RemoteError decoded = DecodeError(error->data);
    s.sim.Check(decoded.code == 8 && absl::StrContains(decoded.text, "flow control violation") &&
                    absl::StrContains(decoded.text, "3095 bytes of window left"),
                decoded.text);
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 3, 1, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 3, 2, "alive"), F(Kind::kCloseSend, 3, 3)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> reply = s.client.ReadFrame();
    s.sim.Check(reply.ok() && *reply == F(Kind::kMessage, 3, 1, "alive"),
                reply.ok() ? reply->ToString() : reply.status().ToString());
  }, 1, &router));
}

// A well-behaved peer: the WindowUpdates grant exactly what the application consumed (coalesced,
// each written once at least half the window was consumed), and their credit can be spent at once.
TEST(MuxFlowTest, WindowUpdatesGrantExactlyWhatWasConsumed) {
  const Router router = ReadOneThenWait();
  ExpectOk(RunServer(SmallWindowServer(), [](ServerSide& s) {
    std::vector<RawFrame> frames;
    frames.push_back(FlowInvoke(1, "/t.T/ReadAll", &frames));
    for (uint64_t m = 3; m < 7; ++m) frames.push_back(F(Kind::kMessage, 1, m, std::string(1023, 'x')));
    s.sim.Check(s.client.WriteBytes(testing::Encode(frames)).ok(), "write");  // the whole window
    uint64_t granted = 0;
    while (granted < 4096) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok() && f->kind == Kind::kWindowUpdate && f->id == PacketId{1, 0} && f->control,
                  f.ok() ? f->ToString() : f.status().ToString());
      absl::StatusOr<uint64_t> delta = DecodeWindowUpdate(f->data);
      s.sim.Check(delta.ok() && *delta >= 2048 && granted + *delta <= 4096,
                  absl::StrCat("delta ", delta.value_or(0), " after ", granted));
      granted += *delta;
    }
    s.sim.Check(s.client.Silent(Duration::Millis(5)), "more was granted than consumed");
    frames.clear();
    for (uint64_t m = 7; m < 11; ++m) frames.push_back(F(Kind::kMessage, 1, m, std::string(1023, 'y')));
    frames.push_back(F(Kind::kCloseSend, 1, 11));
    s.sim.Check(s.client.WriteBytes(testing::Encode(frames)).ok(), "write");
    // The second window's worth was accepted: the handler read to EOF and ended with CloseSend.
    for (;;) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok(), f.status().ToString());
      if (f->kind == Kind::kWindowUpdate) continue;
      s.sim.Check(*f == F(Kind::kCloseSend, 1, 1), f->ToString());
      break;
    }
  }, 1, &router));
}

// The largest window: the first grant (window - initial) is one legal WindowUpdate, nothing
// overflows (a delta above kWindowMaxBytes would fail our own check in proto/window.cc).
TEST(MuxFlowTest, LargestWindowIsGrantedInLegalDeltas) {
  Options o = MuxOptions();
  o.window_bytes = limits::kWindowMaxBytes;
  const Router router = ReadOneThenWait();
  ExpectOk(RunServer(o, [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, 1, 1,
                                  EncodeMetadata({{kFlowWindowMetadataKey, "4096"}})),
                                F(Kind::kInvoke, 1, 2, "/t.T/ReadAll")})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> f = s.client.ReadFrame();
    s.sim.Check(f.ok() && f->kind == Kind::kWindowUpdate, "want the first grant");
    absl::StatusOr<uint64_t> delta = DecodeWindowUpdate(f->data);
    s.sim.Check(delta.ok() && *delta == limits::kWindowMaxBytes - 64 * 1024,
                absl::StrCat("delta ", delta.value_or(0)));
    s.sim.Check(s.client.Write({F(Kind::kCloseSend, 1, 3)}).ok(), "w");
  }, 1, &router));
}

// A message larger than the window arrives while an earlier message is still queued (so its
// first frames are not granted early): once the application takes the queued message, the
// partial one is granted too, and the sender is never left waiting for credit.
TEST(MuxFlowTest, MessageLargerThanTheWindowBehindAQueuedOneIsDelivered) {
  Options o = MuxOptions();
  o.window_bytes = 1024;
  o.window_initial_bytes = 1024;
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.ClientStream(
      "/t.T/Late", [](CallContext& ctx, RpcStream& s) -> absl::StatusOr<std::string> {
        SleepFor(ctx.env(), Duration::Millis(10));  // let the first message queue up
        size_t total = 0;
        for (;;) {
          absl::StatusOr<std::string> m = s.Recv();
          if (IsEof(m.status())) return absl::StrCat(total);
          if (!m.ok()) return m.status();
          total += m->size();
        }
      }));
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    ExpectOk(RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/t.T/Late");
      ctx.Check((*s)->Send(std::string(300, 'a')).ok(), "small");
      ctx.Check((*s)->Send(std::string(5000, 'b')).ok(), "large");
      ctx.Check((*s)->CloseSend().ok(), "close send");
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == "5300", r.status().ToString());
      (*s)->Close().IgnoreError();
    }, seed, &router));
  }
}

}  // namespace
}  // namespace drpc
