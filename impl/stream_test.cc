// The stream state machine alone (docs/protocol.md §7, §12.2), with a fake connection behind it.
#include "impl/stream.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/buffer_pool.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace drpc {
namespace {

struct SentPacket {
  Kind kind;
  uint64_t message;
  std::string data;
  StreamSink::Follows follows;
};

// Records what the stream sends; writes can be held at a gate or made to fail.
class FakeSink final : public StreamSink {
 public:
  explicit FakeSink(Env& env) : gate_(env) { gate_.Set(); }
  absl::Status Send(Stream& s, Kind kind, absl::string_view data, Follows follows) override {
    sent.push_back({kind, s.NextMessageId(), std::string(data), follows});
    gate_ptr_->Wait("fake sink: write held");
    return fail_with;
  }
  absl::Status SendTerminal(Stream& s, Kind kind, absl::string_view data,
                            const absl::Status&) override {
    return Send(s, kind, data, Follows::kNothing);
  }
  absl::Status OnFirstRecv(Stream&) override {
    ++first_recvs;
    return absl::OkStatus();
  }
  void OnConsumed(Stream&, uint64_t credit) override { consumed += credit; }
  void OnStreamError(Stream& s, const absl::Status& e) override { s.TerminateWithError(e); }
  void OnFinished(Stream&) override { ++finished; }

  // Subsequent writes wait until Release().
  void Hold(Env& env) {
    held_ = std::make_unique<Signal>(env);
    gate_ptr_ = held_.get();
  }
  void Release() { held_->Set(); }

  std::vector<SentPacket> sent;
  int first_recvs = 0;
  int finished = 0;
  uint64_t consumed = 0;
  absl::Status fail_with;

 private:
  Signal gate_;
  std::unique_ptr<Signal> held_;
  Signal* gate_ptr_ = &gate_;
};

Packet Pkt(Kind kind, std::string data = "", bool control = false) {
  return Packet{PacketId{1, 1}, kind, control, std::move(data)};
}

void RunSim(std::function<void(sim::SimContext&, Stream&, FakeSink&)> body) {
  sim::RunResult r = sim::RunSeed(
      [&](sim::SimContext& ctx) {
        FakeSink sink(ctx.env());
        Stream s(ctx.env(), sink, 1, Stream::Role::kClient,
                 Stream::Limits{.recv_queue_max_count = 4, .recv_queue_max_bytes = 1 << 20});
        body(ctx, s, sink);
        if (!s.terminated()) s.Cancel(CanceledError());
      },
      1, sim::RunOptions{});
  ASSERT_TRUE(r.ok()) << sim::FailureClassName(r.failure) << ": " << r.message;
}

// Go's TestStream_StateTransitions: what Send and Recv return after each event.
TEST(StreamTest, SendAndRecvResultsAfterEachEventMatchGo) {
  struct Row {
    const char* event;
    std::function<void(Stream&)> apply;
    std::function<bool(const absl::Status&)> send_ok;
    std::function<bool(const absl::Status&)> recv_ok;
  };
  auto is_eof = [](const absl::Status& s) { return IsEof(s); };
  auto is_ok = [](const absl::Status& s) { return s.ok(); };
  const std::vector<Row> rows = {
      {"local Close", [](Stream& s) { s.Close().IgnoreError(); },
       [](const absl::Status& st) { return st.message() == "stream terminated by sending close"; },
       [](const absl::Status& st) { return st.message() == "stream terminated by sending close"; }},
      {"local SendError", [](Stream& s) { s.SendError(absl::InternalError("x")).IgnoreError(); },
       is_eof, [](const absl::Status& st) { return st.message() == "stream terminated by sending error"; }},
      {"local CloseSend", [](Stream& s) { s.CloseSend().IgnoreError(); },
       [](const absl::Status& st) { return st.message() == "send closed"; }, is_ok},
      {"local Cancel(Canceled)", [](Stream& s) { s.Cancel(CanceledError()); }, is_eof,
       [](const absl::Status& st) { return absl::IsCancelled(st); }},
      {"local Cancel(DeadlineExceeded)", [](Stream& s) { s.Cancel(DeadlineError()); }, is_eof,
       [](const absl::Status& st) { return absl::IsDeadlineExceeded(st); }},
      {"remote Close", [](Stream& s) { s.HandlePacket(Pkt(Kind::kClose)).IgnoreError(); },
       [](const absl::Status& st) { return IsClosed(st) && st.message() == "closed: remote closed the stream"; },
       is_eof},
      {"remote Error", [](Stream& s) { s.HandlePacket(Pkt(Kind::kError, std::string(7, '\0') + "\x05" "bad")).IgnoreError(); },
       is_eof, [](const absl::Status& st) { return st.message() == "bad" && RemoteErrorCode(st) == 5u; }},
      {"remote CloseSend", [](Stream& s) { s.HandlePacket(Pkt(Kind::kCloseSend)).IgnoreError(); },
       is_ok, is_eof},
      {"remote Cancel", [](Stream& s) { s.HandlePacket(Pkt(Kind::kCancel, "", true)).IgnoreError(); },
       is_eof, [](const absl::Status& st) { return absl::IsCancelled(st); }},
  };
  for (const Row& row : rows) {
    RunSim([&](sim::SimContext& ctx, Stream& s, FakeSink&) {
      row.apply(s);
      const absl::Status send = s.Send("m");
      ctx.Check(row.send_ok(send), absl::StrCat(row.event, ": Send returned ", send.ToString()));
      // A message queued by the peer is what Recv returns while receiving still works.
      s.HandlePacket(Pkt(Kind::kMessage, "queued")).IgnoreError();
      const absl::Status recv = s.Recv().status();
      ctx.Check(row.recv_ok(recv), absl::StrCat(row.event, ": Recv returned ", recv.ToString()));
    });
  }
}

// Go's TestStream_Unblocks: a blocked Recv is released by every event that ends receiving.
TEST(StreamTest, BlockedRecvIsReleasedByEveryEndingEvent) {
  const std::vector<std::function<void(Stream&)>> events = {
      [](Stream& s) { s.Close().IgnoreError(); },
      [](Stream& s) { s.SendError(absl::InternalError("x")).IgnoreError(); },
      [](Stream& s) { s.Cancel(CanceledError()); },
      [](Stream& s) { s.Cancel(DeadlineError()); },
      [](Stream& s) { s.HandlePacket(Pkt(Kind::kClose)).IgnoreError(); },
      [](Stream& s) { s.HandlePacket(Pkt(Kind::kError, "12345678boom")).IgnoreError(); },
      [](Stream& s) { s.HandlePacket(Pkt(Kind::kCloseSend)).IgnoreError(); },
  };
  for (size_t i = 0; i < events.size(); ++i) {
    RunSim([&](sim::SimContext& ctx, Stream& s, FakeSink&) {
      Signal released(ctx.env());
      bool started = false;
      DRPC_CHECK_OK(ctx.env().scheduler().Spawn("receiver", [&] {
        started = true;
        s.Recv().IgnoreError();
        released.Set();
      }));
      while (!started) ctx.env().scheduler().Yield();
      events[i](s);
      ctx.Check(released.Wait("receiver", ctx.now() + Duration::Seconds(1)),
                absl::StrCat("event ", i, " did not release Recv"));
    });
  }
}

// Go's TestStream_Control.
// Found by the long simulator sweep (pr54.mux.CancelIsolation seed 1043): the peer had sent its
// messages and CloseSend, the caller cancelled before reading them, and Recv reported EOF — a
// clean end with every message missing.
TEST(StreamTest, CancelAfterThePeerFinishedSendingReportsCanceledNotEof) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink&) {
    s.HandlePacket(Pkt(Kind::kMessage, "one")).IgnoreError();
    s.HandlePacket(Pkt(Kind::kCloseSend)).IgnoreError();
    s.Cancel(CanceledError());
    const absl::StatusOr<std::string> r = s.Recv();
    ctx.Check(absl::IsCancelled(r.status()), absl::StrCat("Recv: ", r.status().ToString()));
    ctx.Check(absl::IsCancelled(s.Recv().status()), "and again");
  });
}

TEST(StreamTest, UnknownKindIsIgnoredWithControlBitAndFatalWithout) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink&) {
    ctx.Check(s.HandlePacket(Packet{PacketId{1, 1}, static_cast<Kind>(40), true, ""}).ok(),
              "control packet of unknown kind must be ignored");
    ctx.Check(!s.terminated(), "ignored packet changed the stream");
    const absl::Status fatal = s.HandlePacket(Packet{PacketId{1, 2}, static_cast<Kind>(40), false, ""});
    ctx.Check(IsProtocolError(fatal), fatal.ToString());
    const absl::Status invoke = s.HandlePacket(Pkt(Kind::kInvoke, "/x/Y"));
    ctx.Check(IsProtocolError(invoke) && absl::StrContains(invoke.message(), "invoke on existing stream"),
              invoke.ToString());
  });
}

// The cork's event: a Recv before any send tells the connection once (upstream writes out the
// corked Invoke then); a message says whether the stream's CloseSend follows at once.
TEST(StreamTest, FirstRecvBeforeAnySendIsReportedOnceAndSendLastAnnouncesItsCloseSend) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink& sink) {
    s.HandlePacket(Pkt(Kind::kMessage, "a")).IgnoreError();
    s.HandlePacket(Pkt(Kind::kMessage, "b")).IgnoreError();
    s.Recv().IgnoreError();
    s.Recv().IgnoreError();
    ctx.Check(sink.first_recvs == 1, absl::StrCat(sink.first_recvs, " first receives"));
    ctx.Check(s.Send("x").ok() && sink.sent.back().follows == StreamSink::Follows::kNothing,
              "Send must not wait for anything to follow");
    ctx.Check(s.SendLast("y").ok(), "send last");
    ctx.Check(sink.sent[1].follows == StreamSink::Follows::kCloseSend &&
                  sink.sent[2].kind == Kind::kCloseSend &&
                  sink.sent[2].follows == StreamSink::Follows::kNothing,
              "SendLast's message must announce the CloseSend that follows it");
    ctx.Check(sink.sent[0].message == 1 && sink.sent[2].message == 3, "message IDs in order from 1");
  });
}

// A stream that sent first has nothing held back: its Recv is not a first receive.
TEST(StreamTest, RecvAfterASendIsNotAFirstRecv) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink& sink) {
    ctx.Check(s.Send("x").ok(), "send");
    s.HandlePacket(Pkt(Kind::kMessage, "a")).IgnoreError();
    ctx.Check(s.Recv().ok(), "recv");
    ctx.Check(sink.first_recvs == 0, absl::StrCat(sink.first_recvs, " first receives"));
  });
}

// Go's TestStream_ConcurrentCloseCancel: Close blocked in a write, then a cancel and a failing
// transport: Close reports the cancel, not the I/O error.
TEST(StreamTest, CancelBeatsTheTransportErrorOfABlockedClose) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink& sink) {
    sink.Hold(ctx.env());
    sink.fail_with = absl::UnavailableError("transport: connection reset");
    absl::Status closed;
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("closer", [&] {
      closed = s.Close();
      done.Set();
    }));
    while (sink.sent.empty()) ctx.env().scheduler().Yield();  // Close is now held in its write
    s.Cancel(CanceledError());
    sink.Release();
    done.Wait("closer");
    ctx.Check(absl::IsCancelled(closed), closed.ToString());
  });
}

TEST(StreamTest, QueuedMessagesDrainBeforeARemoteEndButNotAfterALocalOne) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink&) {
    s.HandlePacket(Pkt(Kind::kMessage, "one")).IgnoreError();
    s.HandlePacket(Pkt(Kind::kMessage, "two")).IgnoreError();
    s.HandlePacket(Pkt(Kind::kError, "12345678late")).IgnoreError();
    ctx.Check(*s.Recv() == "one" && *s.Recv() == "two", "messages before a remote Error drain");
    ctx.Check(s.Recv().status().message() == "late", "then the remote error");
  });
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink&) {
    s.HandlePacket(Pkt(Kind::kMessage, "one")).IgnoreError();
    s.Cancel(CanceledError());
    ctx.Check(absl::IsCancelled(s.Recv().status()), "a local cancel drops queued messages");
  });
}

TEST(StreamTest, FinishesOnceWhenTerminatedAndIdle) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink& sink) {
    Signal in_recv(ctx.env());
    Signal done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("receiver", [&] {
      in_recv.Set();
      s.Recv().IgnoreError();
      done.Set();
    }));
    in_recv.Wait("receiver started");
    s.HandlePacket(Pkt(Kind::kClose)).IgnoreError();
    ctx.Check(s.terminated() && !s.finished(), "finished before the receiver returned");
    done.Wait("receiver");
    ctx.Check(s.finished() && sink.finished == 1, absl::StrCat("finished ", sink.finished, " times"));
    s.HandlePacket(Pkt(Kind::kMessage, "late")).IgnoreError();
    ctx.Check(s.queued_messages() == 0, "packets after the end must be ignored");
  });
}

TEST(StreamTest, FullQueueHoldsTheReaderUntilTheApplicationReadsOrTheStreamEnds) {
  RunSim([](sim::SimContext& ctx, Stream& s, FakeSink&) {
    int delivered = 0;
    Signal reader_done(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("connection reader", [&] {
      for (int i = 0; i < 6; ++i) {
        s.HandlePacket(Pkt(Kind::kMessage, absl::StrCat(i))).IgnoreError();
        ++delivered;
      }
      reader_done.Set();
    }));
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(delivered == 4 && s.queued_messages() == 4, absl::StrCat("delivered ", delivered));
    ctx.Check(*s.Recv() == "0", "first message");
    SleepFor(ctx.env(), Duration::Millis(1));
    ctx.Check(delivered == 5, "one read frees one slot");
    s.StopReceiving();  // the handler returned: the reader must not wait any longer
    reader_done.Wait("reader");
    ctx.Check(delivered == 6 && s.queued_messages() == 0, "StopReceiving must drop and release");
  });
}

// Go's TestStream_PacketBufferReuse (x100 seeds): the producer (the connection's reader) builds
// each packet in a pooled buffer, then keeps taking pooled buffers and scribbling over them, while
// the consumer receives into one string (handing its old buffer back to the pool) and a cancel
// strikes at a random moment. A delivered message is never changed afterwards, and messages
// arrive whole and in order until the cancel.
TEST(StreamTest, PacketBufferReuseNeverCorruptsADeliveredMessage) {
  auto payload = [](int i) {
    return std::string(100 + static_cast<size_t>(i % 50), static_cast<char>('a' + i % 26));
  };
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    sim::RunResult r = sim::RunSeed(
        [&](sim::SimContext& ctx) {
          Env& env = ctx.env();
          BufferPool pool(BufferPool::Limits{
              .pooled_max_count = 4, .pooled_max_bytes = 1 << 20, .buffer_max_bytes = 1 << 16});
          FakeSink sink(env);
          Stream s(env, sink, 1, Stream::Role::kServer,
                   Stream::Limits{.recv_queue_max_count = 4, .recv_queue_max_bytes = 1 << 20},
                   &pool);
          WaitGroup wg(env);
          wg.Add(3);
          DRPC_CHECK_OK(env.scheduler().Spawn("producer", [&] {
            for (int i = 0; i < 200 && !s.terminated(); ++i) {
              std::string buf = pool.Take();
              buf.assign(payload(i));
              s.HandlePacket(Packet{PacketId{1, static_cast<uint64_t>(i + 1)}, Kind::kMessage,
                                    false, std::move(buf)})
                  .IgnoreError();
              std::string scribble = pool.Take();  // whatever the consumer handed back
              scribble.assign(150, '#');
              pool.Give(std::move(scribble));
            }
            wg.Done();
          }));
          DRPC_CHECK_OK(env.scheduler().Spawn("consumer", [&] {
            std::string m;
            for (int i = 0;; ++i) {
              absl::Status st = s.RecvInto(&m);
              if (!st.ok()) {
                ctx.Check(absl::IsCancelled(st), st.ToString());
                break;
              }
              ctx.Check(m == payload(i), absl::StrCat("message ", i, " corrupted on arrival"));
              env.scheduler().Yield();  // the producer reuses pooled buffers meanwhile
              ctx.Check(m == payload(i), absl::StrCat("message ", i, " changed after delivery"));
            }
            wg.Done();
          }));
          DRPC_CHECK_OK(env.scheduler().Spawn("canceller", [&] {
            for (uint64_t n = ctx.Choose("cancel after", 400); n > 0; --n) env.scheduler().Yield();
            s.Cancel(CanceledError());
            wg.Done();
          }));
          wg.Wait();
          ctx.Check(pool.free_count() <= 4, "pool over its bound");
        },
        seed, sim::RunOptions{});
    ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                        << r.message;
  }
}

}  // namespace
}  // namespace drpc
