// Mux mode (docs/protocol.md §11): concurrency, isolation, per-stream assembly, flow control, refusal, and
// the frame-level checks of the cockroachdb fork's manager tests (§12.8).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/mux_manager.h"
#include "impl/sync.h"
#include "impl/tunables.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "proto/metadata.h"
#include "proto/window.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::Encode;
using testing::F;
using testing::MuxOptions;
using testing::Pair;
using testing::RawFrame;
using testing::RunPair;
using testing::RunClient;
using testing::RunServer;
using testing::ClientSide;
using testing::ServerSide;

void RunSeeds(const Options& client, const Options& server,
              std::function<void(Pair&, sim::SimContext&)> body, int seeds = 20,
              const Router* router = nullptr) {
  for (int seed = 1; seed <= seeds; ++seed) {
    sim::NetworkOptions net;
    net.link.segment_max_bytes = 1 + seed % 9;  // cut writes so frame headers split
    net.link.cut_reads = true;
    sim::RunResult r = RunPair(client, server, body, static_cast<uint64_t>(seed), router,
                               sim::FaultPlan::None(), net);
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message << "\n" << r.trace_tail;
  }
}

// A bidi call on its own fiber: sends `messages`, checks every echo, closes.
void EchoOnFiber(Pair& p, sim::SimContext& ctx, WaitGroup& wg, std::string tag, int messages,
                 size_t size) {
  wg.Add();
  DRPC_CHECK_OK(p.env().scheduler().Spawn(absl::StrCat("bidi ", tag), [&p, &ctx, &wg, tag, messages, size] {
    CallContext call(p.env());
    absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/interop.Echo/Bidi");
    ctx.Check(s.ok(), s.status().ToString());
    for (int i = 0; i < messages; ++i) {
      std::string m = absl::StrCat(tag, ":", i, ":");
      m.resize(std::max(m.size(), size), static_cast<char>('a' + i % 26));
      ctx.Check((*s)->Send(m).ok(), "send");
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == m, absl::StrCat(tag, " message ", i, " corrupted or lost: ",
                                                r.status().ToString()));
    }
    ctx.Check((*s)->CloseSend().ok(), "close send");
    ctx.Check(IsEof((*s)->Recv().status()), "EOF");
    (*s)->Close().IgnoreError();
    wg.Done();
  }));
}

// An idle connection keeps no writer fiber: once idle for the idle delay, both sides' writer
// fibers end, and the next call starts them again.
TEST(MuxTest, IdleConnectionsWritersEndAndTheNextCallStartsThemAgain) {
  const Options o = MuxOptions();
  RunSeeds(o, o, [](Pair& p, sim::SimContext& ctx) {
    const MuxWriter& writer = static_cast<MuxManager&>(p.conn().manager()).writer();
    for (int round = 0; round < 2; ++round) {
      CallContext call(p.env());
      absl::StatusOr<std::string> reply = p.conn().Invoke(call, "/interop.Echo/Unary", "idle");
      ctx.Check(reply.ok() && *reply == "idle", absl::StrCat("call ", round));
      ctx.Check(writer.fiber_running(), "no writer fiber after a call");
      const size_t fibers_busy = ctx.scheduler().live_fibers();
      SleepFor(p.env(), tunables::kMemoryReturnIdleDelay * 3);
      ctx.Check(!writer.fiber_running(), "the idle client's writer fiber still runs");
      ctx.Check(ctx.scheduler().live_fibers() + 2 <= fibers_busy,
                absl::StrCat(fibers_busy, " fibers busy, ", ctx.scheduler().live_fibers(),
                             " idle: a writer fiber did not end"));
    }
  }, 5);
}

TEST(MuxTest, ConcurrentStreamsWithTinySplitSizeArriveUncorrupted) {
  Options o = MuxOptions();
  o.split_bytes = 5;  // TestConcurrentLargeMessages: 20-byte messages in 5-byte frames
  RunSeeds(o, o, [](Pair& p, sim::SimContext& ctx) {
    WaitGroup wg(p.env());
    for (int i = 0; i < 4; ++i) EchoOnFiber(p, ctx, wg, absl::StrCat("s", i), 5, 20);
    wg.Wait();
  });
}

TEST(MuxTest, LargeAndSmallMessagesInterleaveIntact) {
  Options o = MuxOptions();
  o.split_bytes = 1024;
  RunSeeds(o, o, [](Pair& p, sim::SimContext& ctx) {
    WaitGroup wg(p.env());
    EchoOnFiber(p, ctx, wg, "big", 2, 300 * 1024);
    EchoOnFiber(p, ctx, wg, "small", 20, 10);
    wg.Wait();
  }, 8);
}

// docs/protocol.md §11.5 (head-of-line blocking): a small message queued while a large one is being written
// reaches the wire before the large one's last frame.
TEST(MuxTest, LargeMessagesDoNotBlockSmallOnes) {
  Options o = MuxOptions();
  o.split_bytes = 1024;
  sim::NetworkOptions net;
  net.link.buffer_bytes = 16 * 1024;
  net.link.bandwidth_bytes_per_second = 1'000'000;  // the large message takes ~300 ms
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    ExpectOk(RunClient(o, [](ClientSide& c) {
      Env& env = c.sim.env();
      CallContext ctx(env);
      absl::StatusOr<std::shared_ptr<RpcStream>> big = c.conn.NewStream(ctx, "/pkg.Svc/Big");
      Signal big_sent(env);
      DRPC_CHECK_OK(env.scheduler().Spawn("big sender", [&] {
        c.sim.Check((*big)->Send(std::string(300 * 1024, 'B')).ok(), "big send");
        big_sent.Set();
      }));
      SleepFor(env, Duration::Millis(10));  // the large message is on its way
      absl::StatusOr<std::shared_ptr<RpcStream>> small = c.conn.NewStream(ctx, "/pkg.Svc/Small");
      const Instant queued = c.sim.now();
      c.sim.Check((*small)->Send("small").ok(), "small send");
      c.sim.Check(!big_sent.IsSet(), "the large message was already written");
      // At most the batch being written and the next one (write_batch_max_bytes each, ~66 ms at
      // this bandwidth) come first; the large message alone needs ~300 ms.
      c.sim.Check(c.sim.now() - queued < Duration::Millis(150),
                  absl::StrCat("the small message took ", (c.sim.now() - queued).ToString()));
      int small_at = -1, big_done_at = -1;
      for (int i = 0; big_done_at < 0; ++i) {
        absl::StatusOr<RawFrame> f = c.server.ReadFrame();
        c.sim.Check(f.ok(), f.status().ToString());
        if (f->kind != Kind::kMessage) continue;
        if (f->id.stream == 2) small_at = i;
        if (f->id.stream == 1 && f->done) big_done_at = i;
      }
      c.sim.Check(small_at >= 0 && small_at < big_done_at,
                  absl::StrCat("small message at frame ", small_at, ", large done at frame ",
                               big_done_at));
      big_sent.Wait("big sender");
      (*big)->Close().IgnoreError();
      (*small)->Close().IgnoreError();
    }, seed, net));
  }
}

TEST(MuxTest, CancelOneStreamLeavesTheOthersAndTheConnection) {
  RunSeeds(MuxOptions(), MuxOptions(), [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    EchoOnFiber(p, ctx, wg, "keeps going", 10, 100);
    CallContext doomed(env);
    absl::StatusOr<std::string> slow;
    wg.Add();
    DRPC_CHECK_OK(env.scheduler().Spawn("slow call", [&] {
      slow = p.conn().Invoke(doomed, "/interop.Echo/Slow", "x");
      wg.Done();
    }));
    SleepFor(env, Duration::Micros(50));
    doomed.Cancel();
    EchoOnFiber(p, ctx, wg, "after cancel", 3, 10);
    wg.Wait();
    ctx.Check(absl::IsCancelled(slow.status()), slow.status().ToString());
    ctx.Check(!p.conn().closed().IsSet(), "the connection died");
  });
}

TEST(MuxTest, HandlerErrorFailsOnlyItsStream) {
  RunSeeds(MuxOptions(), MuxOptions(), [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    EchoOnFiber(p, ctx, wg, "healthy", 10, 50);
    absl::StatusOr<std::string> failed;
    wg.Add();
    DRPC_CHECK_OK(env.scheduler().Spawn("failing call", [&] {
      CallContext call(env);
      failed = p.conn().Invoke(call, "/interop.Echo/Fail", "x");
      wg.Done();
    }));
    wg.Wait();
    ctx.Check(RemoteErrorCode(failed.status()) == 42u, failed.status().ToString());
  });
}

TEST(MuxTest, ConnCloseEndsEveryActiveStream) {
  RunSeeds(MuxOptions(), MuxOptions(), [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    std::vector<absl::Status> results(5);
    std::vector<std::unique_ptr<CallContext>> calls;
    for (int i = 0; i < 5; ++i) {
      calls.push_back(std::make_unique<CallContext>(env));
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("slow ", i), [&, i] {
        results[i] = p.conn().Invoke(*calls[i], "/interop.Echo/Slow", "x").status();
        wg.Done();
      }));
    }
    SleepFor(env, Duration::Micros(100));
    p.conn().Close();
    wg.Wait();
    for (const absl::Status& s : results) ctx.Check(IsClosed(s), s.ToString());
  });
}

TEST(MuxTest, TransportLossTerminatesAllStreamsWithTheRealCause) {
  RunSeeds(MuxOptions(), MuxOptions(), [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    std::vector<absl::Status> results(3);
    for (int i = 0; i < 3; ++i) {
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("slow ", i), [&, i] {
        CallContext call(env);
        results[i] = p.conn().Invoke(call, "/interop.Echo/Slow", "x").status();
        wg.Done();
      }));
    }
    SleepFor(env, Duration::Micros(100));
    // The server side goes away (shutdown gives up at once): client calls see "closed".
    p.server().Shutdown(env.clock().Now());
    wg.Wait();
    for (const absl::Status& s : results) {
      ctx.Check(IsClosed(s) && !absl::IsCancelled(s), absl::StrCat("client stream: ", s.ToString()));
    }
  });
}

TEST(MuxTest, MaxConcurrentStreamsRefusesWithAnErrorAndTheConnectionLives) {
  Options server = MuxOptions();
  server.concurrent_streams_max_count = 2;
  RunSeeds(MuxOptions(), server, [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    CallContext call(env);
    std::vector<std::shared_ptr<RpcStream>> open;
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/interop.Echo/Bidi");
      ctx.Check(s.ok() && (*s)->Send("hold").ok() && (*s)->Recv().ok(), "open stream");
      open.push_back(*s);
    }
    absl::StatusOr<std::string> refused = p.conn().Invoke(call, "/interop.Echo/Unary", "x");
    ctx.Check(absl::IsResourceExhausted(refused.status()) &&
                  absl::StartsWith(refused.status().message(), kRefusedPrefix),
              refused.status().ToString());
    for (auto& s : open) {
      ctx.Check(s->CloseSend().ok() && IsEof(s->Recv().status()), "held stream broke");
      s->Close().IgnoreError();
    }
    open.clear();
    // Streams finish when both sides are done; then there is room again.
    SleepFor(env, Duration::Millis(1));
    absl::StatusOr<std::string> after = p.conn().Invoke(call, "/interop.Echo/Unary", "again");
    ctx.Check(after.ok() && *after == "again", after.status().ToString());
  });
}

TEST(MuxTest, OversizedMessageFailsOnlyItsStream) {
  Options server = MuxOptions();
  server.packet_max_bytes = 1000;
  RunSeeds(MuxOptions(), server, [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    EchoOnFiber(p, ctx, wg, "fine", 5, 500);
    CallContext call(env);
    absl::StatusOr<std::string> big =
        p.conn().Invoke(call, "/interop.Echo/Unary", std::string(2000, 'x'));
    ctx.Check(absl::IsResourceExhausted(big.status()) &&
                  absl::StrContains(big.status().message(), "message too large"),
              big.status().ToString());
    wg.Wait();
    absl::StatusOr<std::string> after = p.conn().Invoke(call, "/interop.Echo/Unary", "ok");
    ctx.Check(after.ok(), after.status().ToString());
  });
}

// The server keeps its running calls in start order. A call that ends in the middle of that order
// leaves it, and a shutdown past its deadline cancels the calls still running in the order they
// started.
TEST(MuxTest, ShutdownCancelsTheStillRunningCallsInStartOrder) {
  struct Seen {
    bool shutting = false;
    std::vector<std::string> cancelled;
  } seen;
  Router router;
  DRPC_CHECK_OK(router.Unary(
      "/t.T/Hold", [&seen](CallContext& ctx, absl::string_view body) -> absl::StatusOr<std::string> {
        const std::string tag(body);
        ctx.done_signal().OnSet([&seen, tag](const absl::Status&) {
          if (seen.shutting) seen.cancelled.push_back(tag);
        });
        if (tag == "quick") {
          SleepFor(ctx.env(), Duration::Millis(2));
          return std::string("done");
        }
        ctx.done_signal().Wait("held until cancelled");
        return ctx.err();
      }));
  RunSeeds(MuxOptions(), MuxOptions(), [&seen](Pair& p, sim::SimContext& ctx) {
    seen = Seen{};
    Env& env = p.env();
    WaitGroup wg(env);
    std::vector<absl::Status> results(3);
    const std::vector<std::string> tags = {"first", "quick", "third"};
    for (size_t i = 0; i < tags.size(); ++i) {
      wg.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("call ", tags[i]), [&, i] {
        CallContext call(env);
        results[i] = p.conn().Invoke(call, "/t.T/Hold", tags[i]).status();
        wg.Done();
      }));
      SleepFor(env, Duration::Millis(1));
    }
    SleepFor(env, Duration::Millis(5));
    ctx.Check(results[1].ok(), absl::StrCat("the quick call: ", results[1].ToString()));
    seen.shutting = true;
    p.server().Shutdown(env.clock().Now());
    wg.Wait();
    ctx.Check(seen.cancelled == std::vector<std::string>{"first", "third"},
              absl::StrCat("cancelled in the order: ", absl::StrJoin(seen.cancelled, ", ")));
  }, 20, &router);
}

// Flow control: a consumer that does not read holds back only its own stream, and never buffers
// more than its window (messages of one frame each: no overdraft).
TEST(MuxTest, SlowConsumerBlocksOnlyItsOwnStreamWithinItsWindow) {
  Options o = MuxOptions();
  o.flow = {.enabled = true, .stream_window_bytes = 8 * 1024, .grant_threshold_bytes = 2048};
  o.split_bytes = 1024;
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.ClientStream(
      "/t.T/SlowSink", [](CallContext& ctx, RpcStream& rpc) -> absl::StatusOr<std::string> {
        Stream& s = dynamic_cast<Stream&>(rpc);  // the server's core stream: its queue is visible
        SleepFor(ctx.env(), Duration::Millis(20));  // not reading: the window fills
        size_t queued_max = s.queued_bytes();
        size_t total = 0;
        for (;;) {
          queued_max = std::max(queued_max, s.queued_bytes());
          absl::StatusOr<std::string> m = s.Recv();
          if (IsEof(m.status())) break;
          if (!m.ok()) return m.status();
          total += m->size();
        }
        if (queued_max > 8 * 1024)
          return absl::InternalError(absl::StrCat("buffered ", queued_max));
        return absl::StrCat(total);
      }));
  RunSeeds(o, o, [](Pair& p, sim::SimContext& ctx) {
    Env& env = p.env();
    WaitGroup wg(env);
    wg.Add();
    DRPC_CHECK_OK(env.scheduler().Spawn("flooder", [&] {
      CallContext call(env);
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(call, "/t.T/SlowSink");
      for (int i = 0; i < 40; ++i) ctx.Check((*s)->Send(std::string(1000, 'f')).ok(), "send");
      ctx.Check((*s)->CloseSend().ok(), "close send");
      absl::StatusOr<std::string> r = (*s)->Recv();
      ctx.Check(r.ok() && *r == "40000", r.status().ToString());
      (*s)->Close().IgnoreError();
      wg.Done();
    }));
    // While the flooder waits for window, other streams run.
    SleepFor(env, Duration::Millis(1));
    for (int i = 0; i < 5; ++i) {
      CallContext call(env);
      ctx.Check(p.conn().Invoke(call, "/interop.Echo/Unary", "quick").ok(),
                "blocked by a slow stream");
    }
    wg.Wait();
  }, 10, &router);
}

// The sender overdraws to finish a message it started (docs/protocol.md §17.2): 100 KiB through a
// 1 KiB window, each way, never waiting for a grant inside a message.
TEST(MuxTest, MessageLargerThanTheWindowIsDelivered) {
  Options o = MuxOptions();
  o.split_bytes = 512;
  o.flow = {.enabled = true, .stream_window_bytes = 1024, .grant_threshold_bytes = 256};
  RunSeeds(o, o, [](Pair& p, sim::SimContext& ctx) {
    WaitGroup wg(p.env());
    EchoOnFiber(p, ctx, wg, "huge", 2, 100 * 1024);
    wg.Wait();
  }, 8);
}

// TestDrpcMetadataInterleavedAcrossStreams.
TEST(MuxTest, MetadataInterleavedAcrossStreamsReachesTheRightHandlers) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, 1, 1, EncodeMetadata({{"who", "one"}})),
                                F(Kind::kInvokeMetadata, 3, 1, EncodeMetadata({{"who", "three"}})),
                                F(Kind::kInvoke, 1, 2, "/interop.Echo/Meta"),
                                F(Kind::kInvoke, 3, 2, "/interop.Echo/Meta"),
                                F(Kind::kMessage, 3, 3, ""), F(Kind::kMessage, 1, 3, ""),
                                F(Kind::kCloseSend, 1, 4), F(Kind::kCloseSend, 3, 4)})
                    .ok(),
                "w");
    std::map<uint64_t, std::string> replies;
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok(), f.status().ToString());
      if (f->kind == Kind::kMessage) replies[f->id.stream] = f->data;
    }
    s.sim.Check(replies[1] == "who=one" && replies[3] == "who=three",
                absl::StrCat("got ", replies[1], " / ", replies[3]));
  }));
}

// Per-stream monotonicity: a lower message ID on one stream is a connection-scoped protocol error.
TEST(MuxTest, LowerMessageIdOnAStreamEndsTheConnection) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"),
                                F(Kind::kMessage, 1, 5, "a"), F(Kind::kMessage, 1, 4, "b")})
                    .ok(),
                "w");
    absl::StatusOr<std::vector<RawFrame>> rest = s.client.ReadUntilClosed();
    s.sim.Check(rest.ok(), "the server did not close the connection");
  }));
}

TEST(MuxTest, KindChangeInsideAPacketEndsTheConnection) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    RawFrame part{PacketId{1, 2}, Kind::kMessage, false, false, "ab"};
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"), part,
                                F(Kind::kError, 1, 2, "xx")})
                    .ok(),
                "w");
    s.sim.Check(s.client.ReadUntilClosed().ok(), "the server did not close the connection");
  }));
}

TEST(MuxTest, InvokeOnAnExistingStreamEndsTheConnection) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"),
                                F(Kind::kInvoke, 1, 2, "/interop.Echo/Bidi")})
                    .ok(),
                "w");
    s.sim.Check(s.client.ReadUntilClosed().ok(), "the server did not close the connection");
  }));
}

// Frames of one stream may interleave with another stream's split packet, a higher message ID
// abandons that stream's partial packet, and gaps in message IDs are fine.
TEST(MuxTest, SplitPacketsOfDifferentStreamsInterleave) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    RawFrame a1{PacketId{1, 2}, Kind::kMessage, false, false, "hel"};
    RawFrame b1{PacketId{2, 2}, Kind::kMessage, false, false, "wor"};
    RawFrame a2{PacketId{1, 2}, Kind::kMessage, true, false, "lo"};
    RawFrame b_abandoned{PacketId{2, 3}, Kind::kMessage, false, false, "junk"};
    RawFrame b2{PacketId{2, 7}, Kind::kMessage, true, false, "ld"};
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary"),
                                F(Kind::kInvoke, 2, 1, "/interop.Echo/Unary"), a1, b1, a2,
                                b_abandoned, b2, F(Kind::kCloseSend, 1, 3),
                                F(Kind::kCloseSend, 2, 8)})
                    .ok(),
                "w");
    std::map<uint64_t, std::string> replies;
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame();
      s.sim.Check(f.ok(), f.status().ToString());
      if (f->kind == Kind::kMessage) replies[f->id.stream] = f->data;
    }
    s.sim.Check(replies[1] == "hello" && replies[2] == "ld",
                absl::StrCat("got ", replies[1], " / ", replies[2]));
  }));
}

// Frames for unknown or finished streams (not Invoke) are dropped; the connection lives.
TEST(MuxTest, FramesForUnknownStreamsAreDropped) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kMessage, 9, 1, "nobody"), F(Kind::kClose, 8, 1),
                                F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 1, 2, "x"), F(Kind::kCloseSend, 1, 3)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> m = s.client.ReadFrame();
    s.sim.Check(m.ok() && *m == F(Kind::kMessage, 1, 1, "x"), m.status().ToString());
  }));
}

// docs/protocol.md §14.2: the server accepts stream IDs in any order, and an ID again once its
// stream finished (a new stream), as the fork does.
TEST(MuxTest, StreamIdsInAnyOrderAndReusedAfterTheStreamFinished) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    auto call = [](uint64_t id, const std::string& data) {
      return Encode({F(Kind::kInvoke, id, 1, "/interop.Echo/Unary"), F(Kind::kMessage, id, 2, data),
                     F(Kind::kCloseSend, id, 3)});
    };
    for (uint64_t id : {5, 1, 3, 2'000'000, 7}) {
      s.sim.Check(s.client.WriteBytes(call(id, absl::StrCat("call ", id))).ok(), "w");
      absl::StatusOr<RawFrame> m = s.client.ReadFrame();
      s.sim.Check(m.ok() && *m == F(Kind::kMessage, id, 1, absl::StrCat("call ", id)),
                  m.ok() ? m->ToString() : m.status().ToString());
      s.client.ReadFrame().IgnoreError();  // its CloseSend
    }
    SleepFor(s.sim.env(), Duration::Millis(1));  // stream 1 finished on both sides
    s.sim.Check(s.client.WriteBytes(call(1, "again")).ok(), "reuse");
    absl::StatusOr<RawFrame> again = s.client.ReadFrame();
    s.sim.Check(again.ok() && *again == F(Kind::kMessage, 1, 1, "again"),
                again.ok() ? again->ToString() : again.status().ToString());
  }));
}

// A Cancel between a stream's metadata and its Invoke drops the pending metadata at once (no
// leak); the stream never runs, and its Invoke, when it comes, is answered with Canceled on
// message ID 1 (never silence).
TEST(MuxTest, CancelBetweenMetadataAndInvokeMeansTheStreamNeverRuns) {
  ExpectOk(testing::RunManager(MuxOptions(), Manager::Role::kServer, [](testing::ManagerSide& m) {
    auto& mux = static_cast<MuxManager&>(m.manager);
    RawFrame cancel = F(Kind::kCancel, 1, 2);
    cancel.control = true;
    m.sim.Check(m.peer.Write({F(Kind::kInvokeMetadata, 1, 1, EncodeMetadata({{"k", "v"}}))}).ok(),
                "w");
    SleepFor(m.sim.env(), Duration::Millis(1));
    m.sim.Check(mux.pending_invokes() == 1, "the metadata is not pending");
    m.sim.Check(m.peer.Write({cancel}).ok(), "w");
    SleepFor(m.sim.env(), Duration::Millis(1));
    m.sim.Check(mux.pending_invokes() == 1 && mux.usage().queued_bytes == 0,
                absl::StrCat(mux.pending_invokes(), " pending invokes after the Cancel"));
    m.sim.Check(m.peer.Write({F(Kind::kInvoke, 1, 3, "/interop.Echo/Meta"),
                              F(Kind::kInvoke, 2, 1, "/interop.Echo/Meta")})
                    .ok(),
                "w");
    absl::StatusOr<IncomingStream> in = m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
    m.sim.Check(in.ok() && in->stream->id() == 2 && in->metadata.empty(),
                in.ok() ? absl::StrCat("accepted stream ", in->stream->id()) : in.status().ToString());
    absl::StatusOr<RawFrame> error = m.peer.ReadFrame();
    m.sim.Check(error.ok() && error->kind == Kind::kError && error->id == PacketId{1, 1} &&
                    absl::IsCancelled(StatusFromErrorBody(ErrorFormat::kGrpcStatus, error->data)),
                error.ok() ? error->ToString() : error.status().ToString());
    m.sim.Check(mux.pending_invokes() == 0 && mux.active_streams() == 1, "state left behind");
    in->stream->Cancel(CanceledError());
  }));
}

// An upstream client is a special case of a mux client (docs/protocol.md §11.6). Error bodies must
// be read alike: the client names the server's format (the fork's, by default in mux mode), or the
// server serves upstream's.
TEST(MuxTest, UpstreamClientWorksAgainstAMuxServer) {
  for (ErrorFormat format : {ErrorFormat::kGrpcStatus, ErrorFormat::kUpstream}) {
    Options client = testing::UpstreamOptions();
    Options server = MuxOptions();
    client.error_format = server.error_format = format;
    RunSeeds(client, server, [](Pair& p, sim::SimContext& ctx) {
      WaitGroup wg(p.env());
      EchoOnFiber(p, ctx, wg, "bidi", 5, 70000);
      wg.Wait();
      for (int i = 0; i < 3; ++i) {
        CallContext call(p.env());
        absl::StatusOr<std::string> r =
            p.conn().Invoke(call, "/interop.Echo/Unary", absl::StrCat(i));
        ctx.Check(r.ok() && *r == absl::StrCat(i), r.status().ToString());
      }
      CallContext call(p.env());
      absl::StatusOr<std::string> fail = p.conn().Invoke(call, "/interop.Echo/Fail", "x");
      ctx.Check(RemoteErrorCode(fail.status()) == 42 && fail.status().message() == "boom",
                fail.status().ToString());
    });
  }
}

}  // namespace
}  // namespace drpc
