// Go's drpcmanager random_test.go on the simulator: a hand-written fake peer drives a manager with
// random operations drawn from the seed; no error may end the connection, and the final Close
// reports exactly "manager closed: Close called".
//   * TestRandomized_Client: a fake *client* against a server-role manager — Invokes with 0-15
//     metadata packets (some left unfinished), messages, CloseSend/Close/Error with 8-byte bodies,
//     Cancels, messages for stream IDs never invoked (Go's server wedges on them, §13 item 1), and
//     a "remote-close" message on which the handler closes its stream.
//   * TestRandomized_Server: a fake *server* against our client — messages for stream IDs the
//     client has not created yet, CloseSend/Close/Error/Cancel terminations, messages, while the
//     client creates, sends on, receives from, closes and soft-cancels its streams.
// 200 seeds each run in the default test set.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/manager.h"
#include "impl/sync.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "proto/metadata.h"

namespace drpc {
namespace {

using testing::F;
using testing::RawFrame;

constexpr int kSeeds = 200;
constexpr int kOperations = 256;
constexpr char kClosedByClose[] = "closed: manager closed: Close called";

std::string Bytes8(sim::SimContext& ctx) {
  std::string b(8, '\0');
  for (char& c : b) c = static_cast<char>(ctx.Choose("byte", 256));
  return b;
}

// Writes one packet, split into up to three frames at random points.
void WritePacket(testing::RawPeer& peer, sim::SimContext& ctx, PacketId id, Kind kind,
                 const std::string& data, bool control = false, bool done = true) {
  std::vector<RawFrame> frames;
  size_t at = 0;
  const uint64_t pieces = data.empty() ? 1 : 1 + ctx.Choose("split", 3);
  for (uint64_t i = 0; i < pieces; ++i) {
    const size_t n = i + 1 == pieces ? data.size() - at : ctx.Choose("cut", data.size() - at + 1);
    frames.push_back(RawFrame{id, kind, done && i + 1 == pieces, control, data.substr(at, n)});
    at += n;
  }
  peer.WriteBytes(testing::Encode(frames)).IgnoreError();
}

// The server side under test: accepts streams one after another (like ServeUpstream); a handler
// reads until its stream ends, sometimes answers, and closes the stream on "remote-close".
void ServeRandomly(Manager& m, sim::SimContext& ctx) {
  for (;;) {
    absl::StatusOr<IncomingStream> in = m.AcceptStream(Instant::Infinite());
    if (!in.ok()) return;
    Stream& s = *in->stream;
    std::string msg;
    while (s.RecvInto(&msg).ok()) {
      if (msg == "remote-close") s.Close().IgnoreError();
      if (ctx.Chance("answer", 300)) s.Send("answer").IgnoreError();
    }
    s.StopReceiving();
    s.Cancel(CanceledError());
  }
}

void FakeClientOperation(testing::RawPeer& peer, sim::SimContext& ctx, uint64_t& s, uint64_t& m) {
  switch (ctx.Choose("client op", 8)) {
    case 0: {  // a new stream: metadata packets, then the Invoke, sometimes unfinished
      s += 1 + ctx.Choose("skip ids", 3);
      m = 1;
      for (uint64_t i = ctx.Choose("metadata packets", 16); i > 0; --i) {
        WritePacket(peer, ctx, {s, m++}, Kind::kInvokeMetadata,
                    EncodeMetadata({{absl::StrCat("k", i), Bytes8(ctx)}}));
      }
      const bool unfinished = ctx.Chance("unfinished invoke", 125);
      WritePacket(peer, ctx, {s, m++}, Kind::kInvoke, "/r.R/Random", false, !unfinished);
      return;
    }
    case 7:  // a message for a stream that was never invoked
      s += 1;
      m = 1;
      [[fallthrough]];
    case 1:
      if (s > 0) WritePacket(peer, ctx, {s, m++}, Kind::kMessage, Bytes8(ctx));
      return;
    case 2:
      if (s > 0) WritePacket(peer, ctx, {s, m++}, Kind::kCloseSend, Bytes8(ctx));
      return;
    case 3:
      if (s > 0) WritePacket(peer, ctx, {s, m++}, Kind::kClose, Bytes8(ctx));
      return;
    case 4:
      if (s > 0) WritePacket(peer, ctx, {s, m++}, Kind::kError, Bytes8(ctx));
      return;
    case 5:
      if (s > 0) WritePacket(peer, ctx, {s, m++}, Kind::kCancel, "", /*control=*/true);
      return;
    default:
      if (s > 0) WritePacket(peer, ctx, {s, m++}, Kind::kMessage, "remote-close");
      return;
  }
}

TEST(RandomizedTest, FakeClientNeverBreaksTheServerManager) {  // TestRandomized_Client
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    sim::RunResult r = testing::RunManager(
        Options{}, Manager::Role::kServer,
        [](testing::ManagerSide& side) {
          sim::SimContext& ctx = side.sim;
          Signal served(ctx.env());
          DRPC_CHECK_OK(ctx.env().scheduler().Spawn("server loop", [&] {
            ServeRandomly(side.manager, ctx);
            served.Set();
          }));
          uint64_t s = 0, m = 1;
          for (int op = 0; op < kOperations; ++op) {
            FakeClientOperation(side.peer, ctx, s, m);
            if (ctx.Chance("pause", 200)) SleepFor(ctx.env(), Duration::Micros(10));
            ctx.Check(!side.manager.closed().IsSet(),
                      absl::StrCat("op ", op, ": ", side.manager.closed().status().ToString()));
          }
          SleepFor(ctx.env(), Duration::Millis(1));
          ctx.Check(!side.manager.closed().IsSet(), side.manager.closed().status().ToString());
          side.manager.Close();
          ctx.Check(side.manager.closed().status().message() == kClosedByClose,
                    side.manager.closed().status().ToString());
          served.Wait("server loop");
        },
        seed);
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

// The fake server's side of TestRandomized_Server: what it last sent keeps IDs increasing.
struct FakeServer {
  testing::RawPeer& peer;
  sim::SimContext& ctx;
  uint64_t highest = 0;                // the highest stream it has sent to
  std::map<uint64_t, uint64_t> next;  // next message ID per stream

  void Send(uint64_t stream, Kind kind, const std::string& data, bool control = false) {
    if (stream < highest) return;  // an older stream after a newer one is a protocol violation
    highest = stream;
    uint64_t& m = next.try_emplace(stream, 1).first->second;
    WritePacket(peer, ctx, {stream, m++}, kind, data, control);
  }
};

struct Client {
  Conn& conn;
  sim::SimContext& ctx;
  std::unique_ptr<CallContext> call;
  std::shared_ptr<Stream> stream;
  uint64_t id = 0;

  void NewStream() {
    if (stream != nullptr) stream->Close().IgnoreError();
    stream.reset();
    call = std::make_unique<CallContext>(ctx.env());
    absl::StatusOr<std::shared_ptr<Stream>> s = conn.OpenStream(*call, "/r.R/Random");
    ctx.Check(s.ok(), s.status().ToString());
    stream = *s;
    id = stream->id();
    if (ctx.Chance("send at once", 500)) stream->Send("first").IgnoreError();
  }
};

void RandomServerOrClientOperation(FakeServer& server, Client& client) {
  sim::SimContext& ctx = client.ctx;
  Stream* s = client.stream.get();
  switch (ctx.Choose("op", 8)) {
    case 0:
      client.NewStream();
      return;
    case 1:
      if (s != nullptr) s->Send(Bytes8(ctx)).IgnoreError();
      return;
    case 2:
      if (s != nullptr) s->CloseSend().IgnoreError();
      return;
    case 3:
      if (s != nullptr && (s->queued_messages() > 0 || s->terminated())) s->Recv().IgnoreError();
      return;
    case 4:
      if (client.id > 0) server.Send(client.id, Kind::kMessage, Bytes8(ctx));
      return;
    case 5: {
      if (client.id == 0) return;
      static constexpr Kind kEnds[] = {Kind::kCloseSend, Kind::kClose, Kind::kError, Kind::kCancel};
      const Kind kind = kEnds[ctx.Choose("termination", 4)];
      server.Send(client.id, kind, kind == Kind::kCancel ? "" : Bytes8(ctx), kind == Kind::kCancel);
      return;
    }
    case 6:  // a message for a stream the client has not created yet
      server.Send(client.id + 1, Kind::kMessage, Bytes8(ctx));
      return;
    default:
      if (client.call != nullptr) client.call->Cancel();
      SleepFor(ctx.env(), Duration::Micros(10));  // let the soft cancel's packet go out
      return;
  }
}

TEST(RandomizedTest, FakeServerNeverBreaksTheClientManager) {  // TestRandomized_Server
  Options o;
  o.soft_cancel = true;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    sim::RunResult r = testing::RunClient(
        o,
        [](testing::ClientSide& side) {
          FakeServer server{side.server, side.sim};
          Client client{side.conn, side.sim};
          for (int op = 0; op < kOperations; ++op) {
            RandomServerOrClientOperation(server, client);
            side.sim.Check(!side.conn.closed().IsSet(),
                           absl::StrCat("op ", op, ": ", side.conn.closed().status().ToString()));
          }
          if (client.stream != nullptr) client.stream->Close().IgnoreError();
          client.stream.reset();
          client.call.reset();
          SleepFor(side.sim.env(), Duration::Millis(1));
          side.sim.Check(!side.conn.closed().IsSet(), side.conn.closed().status().ToString());
          side.conn.Close();
          side.sim.Check(side.conn.closed().status().message() == kClosedByClose,
                         side.conn.closed().status().ToString());
        },
        seed);
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

}  // namespace
}  // namespace drpc
