// The mux writer alone: fairness, order, terminal packets, flow control, stop/error paths (the
// MuxWriter tests of cockroachdb/drpc PR #55 and more).
#include "impl/mux_writer.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "impl/testing/raw_peer.h"
#include "impl/tunables.h"
#include "proto/limits.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

using testing::RawFrame;
using testing::RawPeer;

struct Rig {
  sim::SimContext& ctx;
  std::unique_ptr<Transport> ours;
  std::shared_ptr<std::vector<std::string>> writes;  // every transport write, in order
  std::unique_ptr<RawPeer> peer;
  std::unique_ptr<MuxWriter> writer;
  absl::Status write_error;
  std::vector<std::pair<uint64_t, Instant>> stalls;  // on_credit_stall reports, with their time
  Signal writer_done;
  Rig(sim::SimContext& c, MuxWriter::Options o, const sim::NetworkOptions& net = {})
      : ctx(c), writer_done(c.env()) {
    c.network().set_options(net);
    auto [a, b] = c.network().Pipe("mux");
    auto recording = std::make_unique<testing::RecordingTransport>(std::move(a));
    writes = recording->writes();
    ours = std::move(recording);
    peer = std::make_unique<RawPeer>(c.env(), std::move(b));
    writer = std::make_unique<MuxWriter>(
        c.env(), *ours, o, [this](const absl::Status& s) { write_error = s; },
        /*take_window_grant=*/nullptr,
        [this](uint64_t stream) { stalls.emplace_back(stream, ctx.env().clock().Now()); });
    DRPC_CHECK_OK(c.env().scheduler().Spawn("writer", [this] {
      writer->Run();
      writer_done.Set();
    }));
  }
  ~Rig() {
    writer->Stop(absl::CancelledError("test over"));
    writer_done.Wait("writer");
    ours->Close();
    peer.reset();
  }
  std::vector<RawFrame> ReadFrames(size_t n) {
    std::vector<RawFrame> out;
    for (size_t i = 0; i < n; ++i) {
      absl::StatusOr<RawFrame> f = peer->ReadFrame();
      ctx.Check(f.ok(), absl::StrCat("frame ", i, ": ", f.status().ToString()));
      out.push_back(*f);
    }
    return out;
  }
};

void RunSeeds(std::function<void(sim::SimContext&)> body, int seeds = 10) {
  for (int seed = 1; seed <= seeds; ++seed) {
    sim::RunResult r = sim::RunSeed(body, static_cast<uint64_t>(seed), sim::RunOptions{});
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message;
  }
}

MuxWriter::Packet Msg(uint64_t stream, uint64_t message, absl::string_view data) {
  return {PacketId{stream, message}, Kind::kMessage, data};
}

// A writer started with Start: its fiber ends when told the connection is idle and nothing is
// queued; the next packet starts a new fiber that writes it. A start that finds no fiber stops
// the writer with kResourceExhausted (reported, and the waiting write fails), never a hang.
TEST(MuxWriterTest, AnIdleWritersFiberEndsAndTheNextPacketStartsAnother) {
  RunSeeds([](sim::SimContext& ctx) {
    auto [a, b] = ctx.network().Pipe("mux");
    RawPeer peer(ctx.env(), std::move(b));
    absl::Status write_error;
    WaitGroup fibers(ctx.env());
    int started = 0;
    bool refuse_next = false;
    MuxWriter writer(ctx.env(), *a, {.split_bytes = 1024, .batch_max_bytes = 4096},
                     [&](const absl::Status& s) { write_error = s; });
    auto start = [&]() -> absl::Status {
      if (refuse_next) return absl::ResourceExhaustedError("no stack");
      ++started;
      fibers.Add();
      return ctx.env().scheduler().Spawn("writer", [&] {
        writer.Run();
        fibers.Done();
      });
    };
    ctx.Check(writer.Start(start).ok(), "start");
    writer.AddStream(1, false, 0);
    ctx.Check(writer.Write(1, {Msg(1, 1, "one")}).ok(), "first write");
    writer.ExitWhenIdle();
    fibers.Wait("the idle writer's fiber");
    ctx.Check(!writer.fiber_running() && started == 1, "the idle writer's fiber did not end");
    ctx.Check(writer.Write(1, {Msg(1, 2, "two")}).ok(), "write after the fiber ended");
    ctx.Check(started == 2 && writer.fiber_running(), absl::StrCat(started, " fibers started"));
    absl::StatusOr<RawFrame> one = peer.ReadFrame();
    absl::StatusOr<RawFrame> two = peer.ReadFrame();
    ctx.Check(one.ok() && one->data == "one" && two.ok() && two->data == "two", "frames lost");
    writer.ExitWhenIdle();
    fibers.Wait("the idle writer's fiber");
    refuse_next = true;
    const absl::Status refused = writer.Write(1, {Msg(1, 3, "three")});
    ctx.Check(absl::IsResourceExhausted(refused) && absl::IsResourceExhausted(write_error),
              absl::StrCat(refused.ToString(), " / ", write_error.ToString()));
    writer.RemoveStream(1);
    a->Close();
  });
}

TEST(MuxWriterTest, ReadyStreamsTakeTurnsOneFrameEach) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 10, .batch_max_bytes = 1 << 20});
    const std::string a(50, 'a'), b(50, 'b');
    rig.writer->AddStream(1, false, 0);
    rig.writer->AddStream(2, false, 0);
    // Both queued before the writer runs: a large message must not hold the other stream back.
    rig.writer->WriteAsync(1, {Msg(1, 1, a)});
    rig.writer->WriteAsync(2, {Msg(2, 1, b)});
    std::vector<RawFrame> frames = rig.ReadFrames(10);
    std::map<uint64_t, std::string> got;
    for (size_t i = 0; i < frames.size(); ++i) {
      got[frames[i].id.stream] += frames[i].data;
      ctx.Check(frames[i].id.stream == (i % 2 == 0 ? 1u : 2u),
                absl::StrCat("frame ", i, " is from stream ", frames[i].id.stream));
    }
    ctx.Check(got[1] == a && got[2] == b, "data corrupted");
    rig.writer->RemoveStream(1);
    rig.writer->RemoveStream(2);
  });
}

// A peer may reuse a stream ID, but only once the old stream's last frames are on the wire: until
// then the ID is not free (the server refuses such an Invoke), and afterwards the new stream starts
// afresh at message ID 1.
TEST(MuxWriterTest, AStreamIdIsFreeAgainOnceItsLastFramesAreWritten) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 64, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(3, false, 0);
    rig.writer->WriteAsync(3, {Msg(3, 9, "tail")});
    rig.writer->RemoveStream(3);
    ctx.Check(rig.writer->HasFramesToWrite(3), "the ended stream's tail is not pending");
    std::vector<RawFrame> tail = rig.ReadFrames(1);
    ctx.Check(tail[0].id.stream == 3 && tail[0].id.message == 9 && tail[0].data == "tail",
              tail[0].ToString());
    SleepFor(ctx.env(), Duration::Millis(1));  // the writer finishes its turn
    ctx.Check(!rig.writer->HasFramesToWrite(3), "the ID is still held after its last frame");
    rig.writer->AddStream(3, false, 0);
    rig.writer->WriteAsync(3, {Msg(3, 1, "new")});
    std::vector<RawFrame> fresh = rig.ReadFrames(1);
    ctx.Check(fresh[0].id.message == 1 && fresh[0].data == "new", fresh[0].ToString());
    rig.writer->RemoveStream(3);
  });
}

TEST(MuxWriterTest, ConcurrentBlockingWritersAllComplete) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 7, .batch_max_bytes = 20});
    WaitGroup wg(ctx.env());
    std::map<uint64_t, std::string> sent;
    for (uint64_t s = 1; s <= 5; ++s) {
      rig.writer->AddStream(s, false, 0);
      sent[s] = std::string(30 + s, static_cast<char>('a' + s));
      wg.Add();
      DRPC_CHECK_OK(ctx.env().scheduler().Spawn(absl::StrCat("sender ", s), [&, s] {
        ctx.Check(rig.writer->Write(s, {Msg(s, 1, sent[s])}).ok(), "write");
        wg.Done();
      }));
    }
    wg.Wait();
    std::map<uint64_t, std::string> got;
    size_t frames_needed = 0;
    for (const auto& [s, data] : sent) frames_needed += (data.size() + 6) / 7;
    for (const RawFrame& f : rig.ReadFrames(frames_needed)) got[f.id.stream] += f.data;
    ctx.Check(got == sent, "data corrupted or lost");
    for (uint64_t s = 1; s <= 5; ++s) rig.writer->RemoveStream(s);
  });
}

TEST(MuxWriterTest, GroupedPacketsOfAStreamStayTogetherInOrder) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 4, .batch_max_bytes = 16});
    rig.writer->AddStream(7, false, 0);
    rig.writer->WriteAsync(7, {{PacketId{7, 1}, Kind::kInvokeMetadata, "metadata"},
                               {PacketId{7, 2}, Kind::kInvoke, "/a/B"}});
    std::vector<RawFrame> frames = rig.ReadFrames(3);
    ctx.Check(frames[0].kind == Kind::kInvokeMetadata && !frames[0].done &&
                  frames[1].kind == Kind::kInvokeMetadata && frames[1].done &&
                  frames[2].kind == Kind::kInvoke && frames[2].data == "/a/B",
              "metadata and Invoke must go out in order");
    rig.writer->RemoveStream(7);
  });
}

// WriteQueued: a copy is queued without waiting and leaves in the batch of the stream's next
// Write (SendLast's message and CloseSend: one transport write); errors are Write's.
TEST(MuxWriterTest, QueuedPacketLeavesInTheBatchOfTheNextWrite) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 1024, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(1, false, 0);
    std::string data = "queued";
    ctx.Check(rig.writer->WriteQueued(1, Msg(1, 1, data)).ok(), "WriteQueued");
    data = "clobbered";  // the writer holds its own copy
    ctx.Check(rig.writer->Write(1, {{PacketId{1, 2}, Kind::kCloseSend, ""}}).ok(), "Write");
    std::vector<RawFrame> frames = rig.ReadFrames(2);
    ctx.Check(frames[0].kind == Kind::kMessage && frames[0].data == "queued" &&
                  frames[1].kind == Kind::kCloseSend,
              absl::StrCat("frames: ", frames[0].ToString(), ", ", frames[1].ToString()));
    ctx.Check(rig.writes->size() == 1, absl::StrCat(rig.writes->size(), " transport writes"));
    ctx.Check(absl::IsFailedPrecondition(rig.writer->WriteQueued(9, Msg(9, 1, "x"))),
              "an unknown stream is not writable");
    rig.writer->RemoveStream(1);
    ctx.Check(absl::IsFailedPrecondition(rig.writer->WriteQueued(1, Msg(1, 3, "x"))),
              "a removed stream is not writable");
    rig.writer->Stop(absl::UnavailableError("stopped"));
    ctx.Check(absl::IsUnavailable(rig.writer->WriteQueued(1, Msg(1, 3, "x"))),
              "after Stop: the writer's error");
  });
}

// A Message that would wait for credit is not queued behind the caller's back: WriteQueued then
// blocks like Write until the peer grants enough (the stream may otherwise end with data stuck).
TEST(MuxWriterTest, QueuedPacketWithoutCreditWaitsLikeWrite) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 1024, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(1, /*flow_controlled=*/true, /*send_credit=*/4);
    Signal queued(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      queued.Set(rig.writer->WriteQueued(1, Msg(1, 1, "0123456789")));
    }));
    ctx.Check(!queued.Wait("test: sender", ctx.env().clock().Now() + Duration::Millis(10)),
              "WriteQueued returned without the credit to send its message");
    rig.writer->AddCredit(1, 100);
    ctx.Check(queued.Wait("test: sender", ctx.env().clock().Now() + Duration::Seconds(1)) &&
                  queued.status().ok(),
              queued.status().ToString());
    std::string got;
    while (got.size() < 10) got += rig.ReadFrames(1)[0].data;
    ctx.Check(got == "0123456789", got);
    rig.writer->RemoveStream(1);
  });
}

TEST(MuxWriterTest, TerminalPacketDropsQueuedDataAndGoesFirst) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 8, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(1, /*flow_controlled=*/true, /*send_credit=*/8);
    ctx.Check(rig.writer->Write(1, {Msg(1, 1, "12345678")}).ok(), "the credit's worth");
    absl::Status blocked;
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      blocked = rig.writer->Write(1, {Msg(1, 2, std::string(100, 'x'))});  // no credit left
      done.Set();
    }));
    std::vector<RawFrame> first = rig.ReadFrames(1);
    ctx.Check(first[0].data == "12345678" && first[0].done, first[0].ToString());
    rig.writer->WriteTerminalAsync(1, {PacketId{1, 3}, Kind::kCancel, "", true},
                                   absl::CancelledError("context canceled"));
    done.Wait("sender");
    ctx.Check(absl::IsCancelled(blocked), blocked.ToString());
    std::vector<RawFrame> next = rig.ReadFrames(1);
    ctx.Check(next[0].kind == Kind::kCancel && next[0].control && next[0].id == PacketId{1, 3},
              next[0].ToString());
    ctx.Check(rig.peer->Silent(Duration::Millis(5)), "dropped data was still written");
    rig.writer->RemoveStream(1);
  });
}

// docs/protocol.md §17.2: a message starts only within the credit (its first frame), then goes out
// whole, overdrawing; the next message waits until grants repay the deficit and cover its first
// frame. Payload bytes are charged, nothing else.
TEST(MuxWriterTest, MessageStartsWithinTheCreditAndOverdrawsToItsEnd) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 8, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(3, true, 10);
    ctx.Check(rig.writer->Write(3, {Msg(3, 1, std::string(25, 'z'))}).ok(), "overdrawn write");
    std::vector<RawFrame> f = rig.ReadFrames(4);  // 8 + 8 + 8 + 1
    ctx.Check(f[3].data.size() == 1 && f[3].done, f[3].ToString());
    ctx.Check(rig.writer->send_credit(3) == -15, absl::StrCat(rig.writer->send_credit(3)));
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      ctx.Check(rig.writer->Write(3, {Msg(3, 2, "next message")}).ok(), "write");
      done.Set();
    }));
    rig.writer->AddCredit(3, 15);  // the deficit repaid: 0, still short of a first frame (8)
    ctx.Check(rig.peer->Silent(Duration::Millis(5)), "a message started without its credit");
    rig.writer->AddCredit(3, 7);
    ctx.Check(rig.peer->Silent(Duration::Millis(5)), "a message started 1 byte short");
    rig.writer->AddCredit(3, 1);
    std::vector<RawFrame> rest = rig.ReadFrames(2);
    ctx.Check(rest[0].data == "next mes" && rest[1].data == "sage" && rest[1].done,
              rest[0].ToString() + " " + rest[1].ToString());
    done.Wait("sender");
    ctx.Check(rig.writer->send_credit(3) == 8 - 12, absl::StrCat(rig.writer->send_credit(3)));
    rig.writer->RemoveStream(3);
  });
}

// An empty message needs no credit but may not start during an overdraft; grants saturate.
TEST(MuxWriterTest, EmptyMessagesWaitOutAnOverdraftAndCreditSaturates) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 4, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(5, true, 4);
    ctx.Check(rig.writer->Write(5, {Msg(5, 1, "123456")}).ok(), "write");
    rig.ReadFrames(2);
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      ctx.Check(rig.writer->Write(5, {Msg(5, 2, "")}).ok(), "empty");
      done.Set();
    }));
    ctx.Check(rig.peer->Silent(Duration::Millis(5)), "an empty message went out at -2");
    rig.writer->AddCredit(5, 2);
    std::vector<RawFrame> empty = rig.ReadFrames(1);
    ctx.Check(empty[0].data.empty() && empty[0].done, empty[0].ToString());
    done.Wait("sender");
    rig.writer->AddCredit(5, UINT64_MAX);
    ctx.Check(rig.writer->send_credit(5) == limits::kSendCreditMaxBytes, "no saturation");
    rig.writer->AddCredit(5, 1);
    ctx.Check(rig.writer->send_credit(5) == limits::kSendCreditMaxBytes, "overflowed");
    rig.writer->RemoveStream(5);
  });
}

// A sender that waits credit_stall_timeout without a grant is reported; each grant, even one too
// small to let it start, restarts the wait; a stream that no longer waits is not reported.
TEST(MuxWriterTest, CreditStallIsReportedAfterTheTimeoutEachGrantRestartsIt) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 64,
                  .batch_max_bytes = 1 << 20,
                  .credit_stall_timeout = Duration::Millis(10)});
    const Instant start = ctx.env().clock().Now();
    rig.writer->AddStream(1, true, 0);
    rig.writer->AddStream(2, true, 0);
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender 1", [&] {
      rig.writer->Write(1, {Msg(1, 1, "needs five")}).IgnoreError();
    }));
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender 2", [&] {
      rig.writer->Write(2, {Msg(2, 1, "x")}).IgnoreError();
    }));
    SleepFor(ctx.env(), Duration::Millis(6));
    rig.writer->AddCredit(1, 1);  // progress, not enough: stream 1 waits 10 ms more
    rig.writer->AddCredit(2, 1);  // enough: stream 2 goes
    SleepFor(ctx.env(), Duration::Millis(8));
    ctx.Check(rig.stalls.empty(), "reported before its wait was over");
    SleepFor(ctx.env(), Duration::Millis(4));
    ctx.Check(rig.stalls.size() == 1 && rig.stalls[0].first == 1 &&
                  rig.stalls[0].second - start >= Duration::Millis(16),
              absl::StrCat(rig.stalls.size(), " stall reports"));
    rig.writer->Stop(absl::CancelledError("stop"));
  });
}

TEST(MuxWriterTest, ControlFramesBypassAStreamWaitingForCredit) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 1000, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(1, true, 0);
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      rig.writer->Write(1, {Msg(1, 1, "stuck")}).IgnoreError();
      done.Set();
    }));
    std::string error;
    AppendFrame(error, Frame{.id = {7, 1}, .kind = Kind::kError, .done = true, .data = "refused"});
    ctx.Check(rig.writer->WriteUnregistered(error).ok(), "control frame refused");
    std::vector<RawFrame> f = rig.ReadFrames(1);
    ctx.Check(f[0].kind == Kind::kError && f[0].id == PacketId{7, 1}, f[0].ToString());
    rig.writer->Stop(absl::CancelledError("stop"));
    done.Wait("sender");
  });
}

// Issue 13 item 4: frames for streams never registered (refusals) that the peer does not read
// make their writer wait for room — back-pressure, never an error — and all leave once it reads.
TEST(MuxWriterTest, UnregisteredFramesWaitForRoomWhenThePeerDoesNotRead) {
  sim::NetworkOptions net;
  net.link.buffer_bytes = 4096;
  RunSeeds(
      [net](sim::SimContext& ctx) {
        Rig rig(ctx, {.split_bytes = 1000, .batch_max_bytes = 1 << 20}, net);
        constexpr size_t kFrames = 3 * tunables::kControlQueueMaxCount;
        rig.peer->PauseReading();
        size_t queued = 0;
        Signal done(ctx.env());
        DRPC_CHECK_OK(ctx.env().scheduler().Spawn("refuser", [&] {
          for (uint64_t id = 1; id <= kFrames; ++id) {
            std::string f;
            AppendFrame(f, Frame{.id = {id, 1}, .kind = Kind::kError, .done = true, .data = "no"});
            ctx.Check(rig.writer->WriteUnregistered(std::move(f)).ok(), "refused a frame");
            ++queued;
          }
          done.Set();
        }));
        SleepFor(ctx.env(), Duration::Millis(20));
        ctx.Check(!done.IsSet() && queued < kFrames, "a peer that does not read was not waited for");
        ctx.Check(rig.writer->control_queued() <= tunables::kControlQueueMaxCount, "queue over bound");
        rig.peer->ResumeReading();
        std::vector<RawFrame> all = rig.ReadFrames(kFrames);
        ctx.Check(all.back().id == PacketId{kFrames, 1}, all.back().ToString());
        done.Wait("refuser");
      },
      3);
}

TEST(MuxWriterTest, StopFailsQueuedWritesAndLaterOnesAtOnce) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 1000, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(1, true, 0);
    absl::Status queued;
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      queued = rig.writer->Write(1, {Msg(1, 1, "never")});
      done.Set();
    }));
    ctx.env().scheduler().Yield();
    rig.writer->Stop(absl::UnavailableError("closed: connection closed"));
    rig.writer->Stop(absl::InternalError("second stop is ignored"));
    done.Wait("sender");
    ctx.Check(absl::IsUnavailable(queued), queued.ToString());
    ctx.Check(absl::IsUnavailable(rig.writer->Write(1, {Msg(1, 2, "late")})), "write after stop");
    rig.writer_done.Wait("writer fiber exits after stop");
    ctx.Check(rig.peer->Silent(Duration::Millis(5)), "stopped writer wrote data");
  });
}

TEST(MuxWriterTest, TransportErrorFailsTheWritersAndReportsOnceWithoutDeadlock) {
  RunSeeds([](sim::SimContext& ctx) {
    Rig rig(ctx, {.split_bytes = 1000, .batch_max_bytes = 1 << 20});
    rig.writer->AddStream(1, false, 0);
    rig.peer->Close();  // the peer goes away: the next transport write fails
    SleepFor(ctx.env(), Duration::Millis(1));
    const absl::Status s = rig.writer->Write(1, {Msg(1, 1, "into the void")});
    ctx.Check(!s.ok(), "write to a dead transport succeeded");
    rig.writer_done.Wait("writer fiber exits after a write error");
    ctx.Check(!rig.write_error.ok() && rig.writer->stopped(), "error not reported");
  });
}

TEST(MuxWriterTest, BlockedTransportWriteIsReleasedByClose) {
  RunSeeds([](sim::SimContext& ctx) {
    sim::NetworkOptions net;
    net.link.buffer_bytes = 16;
    ctx.network().set_options(net);
    auto [ours, theirs] = ctx.network().Pipe("unread");  // nobody reads `theirs`
    absl::Status reported;
    MuxWriter writer(ctx.env(), *ours, {.split_bytes = 1000, .batch_max_bytes = 1 << 20},
                     [&](const absl::Status& s) { reported = s; });
    Signal writer_done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("writer", [&] {
      writer.Run();
      writer_done.Set();
    }));
    writer.AddStream(1, false, 0);
    absl::Status s;
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      s = writer.Write(1, {Msg(1, 1, std::string(1000, 'q'))});
      done.Set();
    }));
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(!done.IsSet(), "the write should be blocked");
    ours->Close();
    done.Wait("sender");
    writer_done.Wait("writer");
    ctx.Check(!s.ok() && !reported.ok(), "a write cut off by Close must fail and be reported");
    theirs->Close();
  });
}

// Records where the pieces of every gathering write point, then writes them.
class PieceRecordingTransport final : public Transport {
 public:
  explicit PieceRecordingTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override { return inner_->Read(buf, size); }
  absl::Status Write(absl::string_view data) override {
    pieces.push_back(data.data());
    return inner_->Write(data);
  }
  absl::StatusOr<size_t> TryWriteV(absl::Span<const absl::string_view> in) override {
    for (absl::string_view piece : in) pieces.push_back(piece.data());
    return inner_->TryWriteV(in);
  }
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }
  std::vector<const char*> pieces;  // the first byte of every piece written

 private:
  std::unique_ptr<Transport> inner_;
};

// A large Send's frames go to the transport from the sender's own buffer (a gathering write of
// frame headers and slices of the message); small frames and queued copies are copied.
TEST(MuxWriterTest, LargeFramesOfAWaitingSenderAreWrittenFromItsOwnMemory) {
  RunSeeds([](sim::SimContext& ctx) {
    auto [a, b] = ctx.network().Pipe("mux");
    PieceRecordingTransport ours(std::move(a));
    RawPeer peer(ctx.env(), std::move(b));
    MuxWriter writer(ctx.env(), ours,
                     {.split_bytes = tunables::kGatherFrameMinBytes, .batch_max_bytes = 1 << 20},
                     [](const absl::Status&) {});
    Signal writer_done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("writer", [&] {
      writer.Run();
      writer_done.Set();
    }));
    writer.AddStream(1, false, 0);
    std::string large(2 * tunables::kGatherFrameMinBytes + 10, 'L');
    large[tunables::kGatherFrameMinBytes] = 'M';
    ctx.Check(writer.WriteQueued(1, Msg(1, 1, "small")).ok(), "queued");
    ctx.Check(writer.Write(1, {Msg(1, 2, large)}).ok(), "large write");
    const char* const at = large.data();
    auto written_in_place = [&](size_t offset) {
      for (const char* p : ours.pieces) {
        if (p == at + offset) return true;
      }
      return false;
    };
    ctx.Check(written_in_place(0) && written_in_place(tunables::kGatherFrameMinBytes),
              "the large frames were copied");
    ctx.Check(!written_in_place(2 * tunables::kGatherFrameMinBytes),
              "the 10-byte tail frame is copied, not gathered");
    std::string received;
    for (;;) {
      absl::StatusOr<RawFrame> f = peer.ReadFrame();
      ctx.Check(f.ok(), f.status().ToString());
      if (f->id.message == 1) {
        ctx.Check(f->data == "small" && f->done, f->ToString());
        continue;
      }
      received += f->data;
      if (f->done) break;
    }
    ctx.Check(received == large, "the peer got other bytes");
    writer.Stop(absl::CancelledError("test over"));
    writer_done.Wait("writer");
    ours.Close();
  });
}

// Takes at most `take_max_bytes` of a gathering write at once, as a full socket buffer would.
class PartialTakingTransport final : public Transport {
 public:
  PartialTakingTransport(std::unique_ptr<Transport> inner, size_t take_max_bytes)
      : inner_(std::move(inner)), take_max_bytes_(take_max_bytes) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override { return inner_->Read(buf, size); }
  absl::Status Write(absl::string_view data) override { return inner_->Write(data); }
  absl::StatusOr<size_t> TryWriteV(absl::Span<const absl::string_view> pieces) override {
    std::string joined;
    for (absl::string_view piece : pieces) joined.append(piece.data(), piece.size());
    const size_t take = std::min(joined.size(), take_max_bytes_);
    if (absl::Status s = inner_->Write(absl::string_view(joined).substr(0, take)); !s.ok()) return s;
    ++partial_takes;
    return take;
  }
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }
  int partial_takes = 0;

 private:
  std::unique_ptr<Transport> inner_;
  size_t take_max_bytes_;
};

// What the transport does not take of a gathering write at once is written from the writer's own
// copy: a terminal packet releases the sender while that write is blocked, and the sender's
// buffer may be reused at once without changing what the peer gets.
TEST(MuxWriterTest, TheRestOfABlockedGatheringWriteGoesFromACopySoItsSenderMayGo) {
  RunSeeds([](sim::SimContext& ctx) {
    sim::NetworkOptions net;
    net.link.buffer_bytes = 16;  // writes block until the peer reads
    ctx.network().set_options(net);
    auto [pipe_end, theirs] = ctx.network().Pipe("unread until the end");
    auto ours = std::make_unique<PartialTakingTransport>(std::move(pipe_end), 16);
    MuxWriter writer(ctx.env(), *ours,
                     {.split_bytes = tunables::kGatherFrameMinBytes, .batch_max_bytes = 1},
                     [](const absl::Status&) {});
    Signal writer_done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("writer", [&] {
      writer.Run();
      writer_done.Set();
    }));
    writer.AddStream(1, false, 0);
    const std::string expected(tunables::kGatherFrameMinBytes, 'x');
    std::string large(3 * tunables::kGatherFrameMinBytes, 'x');
    absl::Status sent;
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
      sent = writer.Write(1, {Msg(1, 1, large)});
      large.assign(large.size(), 'z');  // the sender reuses its buffer as soon as it may
      done.Set();
    }));
    while (ours->partial_takes == 0) SleepFor(ctx.env(), Duration::Micros(100));
    SleepFor(ctx.env(), Duration::Millis(1));  // the rest of the first frame is blocked
    writer.WriteTerminalAsync(1, {PacketId{1, 2}, Kind::kCancel, "", true},
                              absl::CancelledError("context canceled"));
    ctx.Check(done.Wait("sender", ctx.env().clock().Now() + Duration::Millis(1)),
              "the sender waits for a blocked write");
    ctx.Check(absl::IsCancelled(sent), sent.ToString());
    RawPeer peer(ctx.env(), std::move(theirs));
    absl::StatusOr<RawFrame> first = peer.ReadFrame();
    absl::StatusOr<RawFrame> cancel = peer.ReadFrame();
    ctx.Check(first.ok() && cancel.ok(), "frames");
    ctx.Check(first->data == expected && !first->done, "the first frame changed on its way");
    ctx.Check(cancel->kind == Kind::kCancel && cancel->id == PacketId{1, 2}, cancel->ToString());
    writer.RemoveStream(1);
    writer.Stop(absl::CancelledError("test over"));
    writer_done.Wait("writer");
    ours->Close();
  });
}

// The chaos yield before a batch's write lets other fibers run while the batch holds a waiting
// sender's bytes in place; a terminal packet may release that sender then, and the sender may
// reuse its buffer before the write: the peer still gets the bytes the sender sent.
TEST(MuxWriterTest, ASenderReleasedWhileItsBatchYieldsBeforeTheWriteMayReuseItsBuffer) {
  int windows = 0;  // seeds where the sender was released while its frame waited in a batch
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    sim::RunOptions options;
    options.chaos = true;
    sim::RunResult r = sim::RunSeed(
        [&](sim::SimContext& ctx) {
          Rig rig(ctx, {.split_bytes = 2 * tunables::kGatherFrameMinBytes, .batch_max_bytes = 1 << 20});
          rig.writer->AddStream(1, false, 0);
          std::string buffer(tunables::kGatherFrameMinBytes, 'a');
          absl::Status sent;
          Signal writing(ctx.env()), done(ctx.env());
          DRPC_CHECK_OK(ctx.env().scheduler().Spawn("sender", [&] {
            writing.Set();
            sent = rig.writer->Write(1, {Msg(1, 1, buffer)});
            buffer.assign(buffer.size(), 'z');  // reused as soon as the sender may
            done.Set();
          }));
          writing.Wait("the sender");
          for (uint64_t i = 0; i < seed % 4; ++i) ctx.env().scheduler().Yield();
          rig.writer->WriteTerminalAsync(1, {PacketId{1, 2}, Kind::kCancel, "", true},
                                         absl::CancelledError("context canceled"));
          done.Wait("sender");
          if (absl::IsCancelled(sent)) ++windows;
          for (;;) {
            absl::StatusOr<RawFrame> f = rig.peer->ReadFrame(Duration::Millis(5));
            if (absl::IsDeadlineExceeded(f.status())) break;  // everything written was read
            ctx.Check(f.ok(), f.status().ToString());
            if (f->kind != Kind::kMessage) continue;
            ctx.Check(f->data == std::string(f->data.size(), 'a'),
                      "the peer got bytes the sender wrote after it was released");
          }
          rig.writer->RemoveStream(1);
        },
        seed, options);
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message;
  }
  EXPECT_GT(windows, 0) << "no seed released the sender while its frame was being written";
}

}  // namespace
}  // namespace drpc
