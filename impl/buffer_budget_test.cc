// ConnectionBuffers and ServerBuffers (impl/buffer_budget.h), the per-connection and server-wide
// budgets of buffered bytes: what they count, and what a connection's reader does at the budget —
// stops reading and resumes when the application takes its messages, sheds the stream nobody
// reads after recv_stall_timeout, and gives everything back when a stream ends, is cancelled or
// its connection fails. All on the simulator.
#include "impl/buffer_budget.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/situations.h"
#include "impl/sync.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

using Kind = ConnectionBuffers::Kind;
using testing::ExpectOk;
using testing::Pair;
using testing::RunPair;

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;

// A scripted run with only an Env (no connection).
sim::RunResult RunWithEnv(std::function<void(sim::SimContext&)> body) {
  return sim::RunSeed([&](sim::SimContext& ctx) { body(ctx); }, 1, testing::ScriptedRunOptions());
}

TEST(BufferBudgetTest, CountsByKindAndChargesTheServerOnlyBeyondTheReservation) {
  ExpectOk(RunWithEnv([](sim::SimContext& ctx) {
    ServerBuffers server(1 * kMiB);
    {
      ConnectionBuffers c(ctx.env(), {.max_bytes = 512 * kKiB, .reserved_bytes = 100 * kKiB,
                                      .server = &server});
      c.Add(Kind::kQueued, 60 * kKiB);
      c.Add(Kind::kAssembling, 30 * kKiB);
      ctx.Check(c.held_bytes() == 90 * kKiB && server.used_bytes() == 0,
                "under the reservation: the server is not charged");
      c.Add(Kind::kWriting, 50 * kKiB);
      ctx.Check(server.used_bytes() == 40 * kKiB, absl::StrCat(server.used_bytes()));
      ctx.Check(c.releasable_bytes() == 110 * kKiB, "queued + writing leave without the reader");
      c.Set(Kind::kAssembling, 10 * kKiB);
      ctx.Check(c.held_bytes(Kind::kAssembling) == 10 * kKiB && server.used_bytes() == 20 * kKiB,
                absl::StrCat(server.used_bytes()));
      c.Add(Kind::kPending, 400 * kKiB);
      ctx.Check(c.over_budget() && !c.over_server_budget(), "at its own budget");
      c.Sub(Kind::kPending, 400 * kKiB);
      ctx.Check(!c.over_budget() && c.peak_bytes() == 520 * kKiB,
                absl::StrCat("peak ", c.peak_bytes()));
    }
    ctx.Check(server.used_bytes() == 0, "a connection gives the server back what it charged");
  }));
}

TEST(BufferBudgetTest, ASpentServerBudgetStopsOnlyConnectionsBeyondTheirReservation) {
  ExpectOk(RunWithEnv([](sim::SimContext& ctx) {
    ServerBuffers server(100 * kKiB);
    ConnectionBuffers big(ctx.env(), {.max_bytes = 1 * kMiB, .reserved_bytes = 50 * kKiB,
                                      .server = &server});
    ConnectionBuffers small(ctx.env(), {.max_bytes = 1 * kMiB, .reserved_bytes = 50 * kKiB,
                                        .server = &server});
    big.Add(Kind::kQueued, 150 * kKiB);  // 100 KiB beyond its reservation: the server is spent
    small.Add(Kind::kQueued, 40 * kKiB);
    ctx.Check(server.spent() && big.over_server_budget() && big.over_budget(), "big stops");
    ctx.Check(!small.over_budget(), "small keeps reading within its reservation");
    small.Add(Kind::kQueued, 20 * kKiB);
    ctx.Check(small.over_budget(), "beyond its reservation it stops too");
    big.Sub(Kind::kQueued, 150 * kKiB);
    ctx.Check(!small.over_budget() && !big.over_budget(), "room again");
    small.Sub(Kind::kQueued, 60 * kKiB);
  }));
}

TEST(BufferBudgetTest, BufferChargeReleasesWhicheverWayItLeaves) {
  ExpectOk(RunWithEnv([](sim::SimContext& ctx) {
    ConnectionBuffers c(ctx.env(), {.max_bytes = 1 * kMiB});
    {
      BufferCharge a(&c, Kind::kWriting, 1000);
      BufferCharge b = std::move(a);  // moved: counted once
      ctx.Check(c.held_bytes() == 1000, absl::StrCat(c.held_bytes()));
      BufferCharge d(&c, Kind::kWriting, 500);
      d = std::move(b);  // d's own 500 released, b's 1000 kept
      ctx.Check(c.held_bytes() == 1000, absl::StrCat(c.held_bytes()));
    }
    ctx.Check(c.held_bytes() == 0, "released when the charge goes");
  }));
}

TEST(BufferBudgetTest, AReaderWaitingForRoomWakesWhenBytesAreReleased) {
  ExpectOk(RunWithEnv([](sim::SimContext& ctx) {
    ConnectionBuffers c(ctx.env(), {.max_bytes = 100 * kKiB});
    c.Add(Kind::kQueued, 100 * kKiB);
    bool resumed = false;
    WaitGroup done(ctx.env());
    done.Add();
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("reader", [&] {
      while (!c.WaitForRoom(Instant::Infinite(), "test reader")) {
      }
      resumed = true;
      done.Done();
    }));
    SleepFor(ctx.env(), Duration::Millis(50));
    ctx.Check(!resumed, "the reader went on over its budget");
    c.Sub(Kind::kQueued, 1);
    done.Wait("test: reader");
    ctx.Check(resumed, "not resumed");
  }));
}

// --- A real connection at its budget (mux, no flow control) ----------------------------------------

// The smallest budget Options accept with 64 KiB packets: 4 MiB (a largest default frame) +
// 64 KiB + 1 MiB (one read), rounded up.
Options SmallBudget() {
  Options o = testing::MuxOptions();
  o.packet_max_bytes = 64 * kKiB;
  o.connection_buffered_max_bytes = 6 * kMiB;
  o.recv_stall_timeout = Duration::Millis(500);
  DRPC_CHECK_OK(o.Validate());
  return o;
}

// "/t.T/Drain" waits for *release (or its call's end), then reads every message and replies with the count;
// "/t.T/Never" never reads; "/t.T/Echo" echoes one message. The router is built before the run,
// the Signal inside it: hence the slot.
Router BudgetRouter(Signal** release) {
  Router r;
  DRPC_CHECK_OK(r.Bidi("/t.T/Drain", [release](CallContext& ctx, RpcStream& s) -> absl::Status {
    // Held until released, or until its call ends (a handler that honours its context).
    while (!(*release)->IsSet() && !ctx.done()) SleepFor(ctx.env(), Duration::Millis(1));
    if (ctx.done()) return ctx.err();
    int n = 0;
    for (;;) {
      absl::StatusOr<std::string> m = s.Recv();
      if (IsEof(m.status())) return s.Send(absl::StrCat(n));
      if (!m.ok()) return m.status();
      ++n;
    }
  }));
  DRPC_CHECK_OK(r.Bidi("/t.T/Never", [](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("test: handler that never reads");
    return ctx.err();
  }));
  DRPC_CHECK_OK(r.Unary("/t.T/Echo", [](CallContext&, absl::string_view req)
                                         -> absl::StatusOr<std::string> {
    return std::string(req);
  }));
  return r;
}

// Sends `count` messages of `bytes` on `stream` from a fiber of its own; *sent counts them.
void SendFromFiber(Env& env, WaitGroup& wg, std::shared_ptr<RpcStream> stream, int count,
                   size_t bytes, int* sent) {
  wg.Add();
  DRPC_CHECK_OK(env.scheduler().Spawn("test sender", [&wg, stream, count, bytes, sent] {
    for (int i = 0; i < count && stream->Send(std::string(bytes, 'b')).ok(); ++i) ++*sent;
    wg.Done();
  }));
}

size_t ServerHeld(Pair& p) { return p.server().usage().buffered_bytes; }

// Eight streams send 7.5 MiB to handlers that do not read yet: the server's connection stops
// reading near its 6 MiB budget (the client's sends back up), and once the handlers read,
// everything arrives.
TEST(BufferBudgetTest, ReaderStopsAtTheConnectionBudgetAndResumesWhenTheApplicationReads) {
  Signal* release = nullptr;
  const Router router = BudgetRouter(&release);
  const Options o = SmallBudget();
  ExpectOk(RunPair(o, o, [&](Pair& p, sim::SimContext& ctx) {
    Signal held(p.env());
    release = &held;
    WaitGroup senders(p.env());
    std::vector<std::shared_ptr<RpcStream>> streams;
    std::vector<int> sent(8, 0);
    for (int i = 0; i < 8; ++i) {
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/t.T/Drain");
      ctx.Check(s.ok(), "open");
      streams.push_back(*s);
      SendFromFiber(p.env(), senders, *s, 16, 60 * kKiB, &sent[i]);
    }
    SleepFor(p.env(), Duration::Millis(300));
    int total = 0;
    for (int n : sent) total += n;
    ctx.Check(total < 8 * 16, "every message was taken although nobody reads");
    ctx.Check(ctx.chaos().reached().contains(
                  situations::kManagerReaderStoppedAtTheBufferBudget.name()),
              "the reader never stopped at the budget");
    ctx.Check(ServerHeld(p) <= 6 * kMiB + tunables::kReadMaxBytes,
              absl::StrCat("server connection holds ", ServerHeld(p)));
    held.Set();
    senders.Wait("test: senders");
    for (size_t i = 0; i < streams.size(); ++i) {
      ctx.Check(streams[i]->CloseSend().ok(), "close send");
      absl::StatusOr<std::string> count = streams[i]->Recv();
      ctx.Check(count.ok() && *count == "16", absl::StrCat("stream ", i, ": ",
                                                           count.ok() ? *count : count.status().ToString()));
    }
    SleepFor(p.env(), Duration::Millis(10));
    ctx.Check(ServerHeld(p) == 0, absl::StrCat("still held: ", ServerHeld(p)));
  }, 1, &router));
}

// A handler that never reads holds the budget: after recv_stall_timeout its stream fails
// ("connection buffer budget"), its bytes are released, and the connection's other calls go on.
TEST(BufferBudgetTest, AStreamNobodyReadsIsShedAndTheConnectionGoesOn) {
  Signal* release = nullptr;
  const Router router = BudgetRouter(&release);
  Options o = SmallBudget();
  o.recv_queue_max_bytes = 8 * kMiB;  // the connection budget, not the stream's, is reached
  o.recv_queue_max_count = 1024;
  ExpectOk(RunPair(o, o, [&](Pair& p, sim::SimContext& ctx) {
    absl::StatusOr<std::shared_ptr<RpcStream>> never = p.conn().NewStream(p.ctx(), "/t.T/Never");
    ctx.Check(never.ok(), "open");
    WaitGroup senders(p.env());
    int sent = 0;
    SendFromFiber(p.env(), senders, *never, 128, 60 * kKiB, &sent);
    SleepFor(p.env(), Duration::Seconds(2));
    absl::Status why = (*never)->Recv().status();
    ctx.Check(absl::IsResourceExhausted(why) &&
                  absl::StrContains(why.message(), "connection buffer budget"),
              why.ToString());
    senders.Wait("test: sender");
    SleepFor(p.env(), Duration::Millis(10));
    ctx.Check(ServerHeld(p) == 0, absl::StrCat("still held: ", ServerHeld(p)));
    CallContext call(p.env());
    absl::StatusOr<std::string> echo = p.conn().Invoke(call, "/t.T/Echo", "after");
    ctx.Check(echo.ok() && *echo == "after", echo.status().ToString());
  }, 1, &router));
}

// Bytes queued for a stream go back when its cancelled call's handler returns (a remote Cancel
// ends the stream gracefully: the handler may still be taking what had arrived) and when the
// connection fails.
TEST(BufferBudgetTest, QueuedBytesAreReleasedOnCancelAndOnConnectionFailure) {
  Signal* release = nullptr;
  const Router router = BudgetRouter(&release);
  const Options o = SmallBudget();
  ExpectOk(RunPair(o, o, [&](Pair& p, sim::SimContext& ctx) {
    Signal held(p.env());
    release = &held;
    CallContext first(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> a = p.conn().NewStream(first, "/t.T/Drain");
    for (int i = 0; i < 10; ++i) ctx.Check((*a)->Send(std::string(60 * kKiB, 'c')).ok(), "send");
    SleepFor(p.env(), Duration::Millis(50));
    ctx.Check(ServerHeld(p) >= 10 * 60 * kKiB, absl::StrCat("held ", ServerHeld(p)));
    first.Cancel();
    SleepFor(p.env(), Duration::Millis(50));
    ctx.Check(ServerHeld(p) == 0, absl::StrCat("held after cancel: ", ServerHeld(p)));
    absl::StatusOr<std::shared_ptr<RpcStream>> b = p.conn().NewStream(p.ctx(), "/t.T/Drain");
    for (int i = 0; i < 10; ++i) ctx.Check((*b)->Send(std::string(60 * kKiB, 'd')).ok(), "send");
    SleepFor(p.env(), Duration::Millis(50));
    ctx.Check(ServerHeld(p) >= 10 * 60 * kKiB, absl::StrCat("held ", ServerHeld(p)));
    p.conn().Close();
    SleepFor(p.env(), Duration::Millis(50));
    ctx.Check(ServerHeld(p) == 0 && p.server().server_buffers().used_bytes() == 0,
              absl::StrCat("held after the connection failed: ", ServerHeld(p)));
    held.Set();
  }, 1, &router));
}

// --- Connection budget vs message size ------------------------------------------------------------
// Without flow control (upstream, and mux without it) a message of packet_max_bytes must fit the
// budget: Options refuse a budget that could not hold one, naming both limits.
TEST(BufferBudgetTest, OptionsRefuseABudgetSmallerThanTheLargestMessageInBothModes) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    o.packet_max_bytes = 32 * kMiB;
    const absl::Status st = o.Validate();
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), "connection_buffered_max_bytes") &&
                absl::StrContains(st.message(), "packet_max_bytes"))
        << st;
    o.connection_buffered_max_bytes = 2 * 32 * kMiB + tunables::kReadMaxBytes;
    EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  }
}

// With the fork's flow control a message may be 64 MiB, four times the 16 MiB budget: one larger
// than the budget fails its own stream at once (it can never be held whole; waiting would stall
// the reader) with an error naming both limits, and the connection serves the next call.
TEST(BufferBudgetTest, AFlowControlledMessageLargerThanTheBudgetFailsOnlyItsStream) {
  Signal* release = nullptr;
  const Router router = BudgetRouter(&release);
  const Options o = Options::ForkDefaults();
  ASSERT_GT(o.flow.message_max_bytes, o.connection_buffered_max_bytes);
  ExpectOk(RunPair(o, o, [&](Pair& p, sim::SimContext& ctx) {
    Signal held(p.env());
    release = &held;
    held.Set();
    absl::StatusOr<std::shared_ptr<RpcStream>> big = p.conn().NewStream(p.ctx(), "/t.T/Drain");
    ctx.Check(big.ok(), "open");
    (*big)->Send(std::string(20 * kMiB, 'm')).IgnoreError();
    absl::Status why = (*big)->Recv().status();
    ctx.Check(absl::IsResourceExhausted(why) &&
                  absl::StrContains(why.message(), "flow.message_max_bytes = 67108864") &&
                  absl::StrContains(why.message(), "connection_buffered_max_bytes budget is 16777216"),
              why.ToString());
    SleepFor(p.env(), Duration::Millis(10));
    ctx.Check(ServerHeld(p) == 0, absl::StrCat("still held: ", ServerHeld(p)));
    CallContext call(p.env());
    absl::StatusOr<std::string> echo = p.conn().Invoke(call, "/t.T/Echo", "next");
    ctx.Check(echo.ok() && *echo == "next", echo.status().ToString());
  }, 1, &router));
}

}  // namespace
}  // namespace drpc
