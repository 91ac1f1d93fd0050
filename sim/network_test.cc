#include "sim/network.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/simulation.h"
#include "sim/toys.h"

namespace drpc::sim {
namespace {

void ExpectOk(const RunResult& r) { EXPECT_TRUE(r.ok()) << FailureClassName(r.failure) << ": " << r.message; }

// Spawns a fiber that writes `sent` to `t`, then closes its write side.
void SpawnWriter(SimContext& ctx, Transport* t, const std::string& sent) {
  DRPC_CHECK_OK(ctx.env().scheduler().Spawn("writer", [&ctx, t, &sent] {
    ctx.Check(t->Write(sent).ok(), "write");
    ctx.Check(t->CloseWrite().ok(), "close write");
  }));
}

// Appends the `n` bytes a read put into `first`, then `second` (a vectored read fills in order).
template <size_t kFirst, size_t kSecond>
void AppendRead(std::string& got, const char (&first)[kFirst], const char (&second)[kSecond],
                size_t n) {
  got.append(first, std::min(n, kFirst));
  if (n > kFirst) got.append(second, n - kFirst);
}

std::string ReadAll(SimContext& ctx, Transport& t, absl::Status* end) {
  std::string out;
  char buf[64];
  for (;;) {
    absl::StatusOr<size_t> n = t.Read(buf, sizeof(buf));
    if (!n.ok()) {
      *end = n.status();
      return out;
    }
    ctx.Check(*n >= 1 && *n <= sizeof(buf), "read returned a bad count");
    out.append(buf, *n);
  }
}

TEST(NetworkTest, BytesArriveInOrderWhateverTheSegmentation) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    ExpectOk(RunSeed(
        [](SimContext& ctx) {
          NetworkOptions net;
          net.link.segment_max_bytes = 1 + ctx.Choose("seg", 5);
          net.link.cut_reads = true;
          net.link.latency_max = Duration::Micros(100);
          net.link.buffer_bytes = 1 + ctx.Choose("buf", 40);
          ctx.network().set_options(net);
          auto [a, b] = ctx.network().Pipe("p");
          std::string sent;
          for (int i = 0; i < 100; ++i) absl::StrAppend(&sent, i, ",");
          SpawnWriter(ctx, a.get(), sent);
          absl::Status end;
          ctx.Check(ReadAll(ctx, *b, &end) == sent, "bytes reordered or lost");
          ctx.Check(GetTransportErrorKind(end) == TransportErrorKind::kEof, end.ToString());
          a->Close();
          b->Close();
        },
        seed, RunOptions{}));
  }
}

// ReadV scatters what a read delivers across its buffers in order; with cut reads and
// segmentation, reads end in either buffer, at any byte, and every byte lands where it belongs.
TEST(NetworkTest, ReadVScattersEachReadAcrossItsBuffersInOrder) {
  uint64_t ended_in_first = 0;
  uint64_t ended_in_second = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    ExpectOk(RunSeed(
        [&](SimContext& ctx) {
          NetworkOptions net;
          net.link.segment_max_bytes = 1 + ctx.Choose("seg", 20);
          net.link.cut_reads = true;
          ctx.network().set_options(net);
          auto [a, b] = ctx.network().Pipe("p");
          std::string sent;
          for (int i = 0; i < 200; ++i) absl::StrAppend(&sent, i, ",");
          SpawnWriter(ctx, a.get(), sent);
          std::string got;
          for (;;) {
            char first[7];
            char second[13];
            const absl::Span<char> spans[2] = {absl::Span<char>(first, sizeof(first)),
                                               absl::Span<char>(second, sizeof(second))};
            absl::StatusOr<size_t> n = b->ReadV(spans);
            if (!n.ok()) {
              ctx.Check(GetTransportErrorKind(n.status()) == TransportErrorKind::kEof,
                        n.status().ToString());
              break;
            }
            ctx.Check(*n >= 1 && *n <= sizeof(first) + sizeof(second), "a bad count");
            AppendRead(got, first, second, *n);
            ++(*n > sizeof(first) ? ended_in_second : ended_in_first);
          }
          ctx.Check(got == sent, "bytes reordered or lost");
          a->Close();
          b->Close();
        },
        seed, RunOptions{}));
  }
  EXPECT_GT(ended_in_first, 0u);
  EXPECT_GT(ended_in_second, 0u);
}

// Records what an endpoint's tap sees.
class RecordingTap final : public SimNetwork::EndpointTap {
 public:
  RecordingTap(std::string* written, std::string* read) : written_(written), read_(read) {}
  void OnWrite(absl::string_view bytes) override { written_->append(bytes.data(), bytes.size()); }
  void OnRead(absl::string_view bytes) override { read_->append(bytes.data(), bytes.size()); }

 private:
  std::string* written_;
  std::string* read_;
};

// A tap sees every byte its endpoint was asked to write and every byte its reads returned, plain
// and vectored, however the network cut them; a second tap and a foreign transport are refused.
TEST(NetworkTest, ATapSeesEveryByteItsEndpointWritesAndReads) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ExpectOk(RunSeed(
        [](SimContext& ctx) {
          NetworkOptions net;
          net.link.segment_max_bytes = 1 + ctx.Choose("seg", 9);
          net.link.cut_reads = true;
          net.link.buffer_bytes = 1 + ctx.Choose("buf", 30);
          ctx.network().set_options(net);
          auto [a, b] = ctx.network().Pipe("p");
          std::string a_wrote, a_read, b_wrote, b_read;
          std::unique_ptr<SimNetwork::EndpointTap> tap_a =
              std::make_unique<RecordingTap>(&a_wrote, &a_read);
          std::unique_ptr<SimNetwork::EndpointTap> tap_b =
              std::make_unique<RecordingTap>(&b_wrote, &b_read);
          ctx.Check(SimNetwork::SetTap(*a, tap_a) && tap_a == nullptr, "tap a refused");
          ctx.Check(SimNetwork::SetTap(*b, tap_b) && tap_b == nullptr, "tap b refused");
          std::unique_ptr<SimNetwork::EndpointTap> again =
              std::make_unique<RecordingTap>(&a_wrote, &a_read);
          ctx.Check(!SimNetwork::SetTap(*a, again) && again != nullptr, "a second tap was taken");
          std::string sent;
          for (int i = 0; i < 60; ++i) absl::StrAppend(&sent, i, ";");
          SpawnWriter(ctx, a.get(), sent);
          std::string got;
          for (bool vectored = false;; vectored = !vectored) {
            char first[5];
            char second[8];
            const absl::Span<char> spans[2] = {absl::Span<char>(first, sizeof(first)),
                                               absl::Span<char>(second, sizeof(second))};
            absl::StatusOr<size_t> n = vectored ? b->ReadV(spans) : b->Read(first, sizeof(first));
            if (!n.ok()) break;
            AppendRead(got, first, second, *n);
          }
          ctx.Check(got == sent, "bytes reordered or lost");
          ctx.Check(a_wrote == sent, "the writer's tap missed bytes");
          ctx.Check(b_read == sent, "the reader's tap missed bytes");
          ctx.Check(a_read.empty() && b_wrote.empty(), "a tap saw the other direction");
          a->Close();
          b->Close();
        },
        seed, RunOptions{}));
  }
}

// WriteV and TryWriteV write their pieces as one Write of the joined bytes (Transport's
// contract for the simulator's transport, whose segmentation is drawn per write): the same
// segments, decisions and trace hash, and the tap sees the joined bytes once.
TEST(NetworkTest, AGatheringWriteIsTheSameRunAsOneWriteOfItsJoinedBytes) {
  enum class How { kWrite, kWriteV, kTryWriteV };
  const std::string pieces[] = {"header", "", std::string(300, 'm'), "tail"};
  const std::string joined = pieces[0] + pieces[1] + pieces[2] + pieces[3];
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    uint64_t hashes[3] = {};
    for (How how : {How::kWrite, How::kWriteV, How::kTryWriteV}) {
      std::string tapped, unused;
      RunResult r = RunSeed(
          [&](SimContext& ctx) {
            NetworkOptions net;
            net.link.segment_max_bytes = 1 + ctx.Choose("seg", 9);
            net.link.buffer_bytes = 1 + ctx.Choose("buf", 64);
            net.link.latency_max = Duration::Micros(50);
            ctx.network().set_options(net);
            auto [a, b] = ctx.network().Pipe("p");
            std::unique_ptr<SimNetwork::EndpointTap> tap =
                std::make_unique<RecordingTap>(&tapped, &unused);
            ctx.Check(SimNetwork::SetTap(*a, tap), "tap refused");
            DRPC_CHECK_OK(ctx.env().scheduler().Spawn("writer", [&, a = a.get()] {
              const absl::string_view views[] = {pieces[0], pieces[1], pieces[2], pieces[3]};
              if (how == How::kWrite) ctx.Check(a->Write(joined).ok(), "write");
              if (how == How::kWriteV) ctx.Check(a->WriteV(views).ok(), "writev");
              if (how == How::kTryWriteV) {
                absl::StatusOr<size_t> n = a->TryWriteV(views);
                ctx.Check(n.ok() && *n == joined.size(), "trywritev took less than everything");
              }
              ctx.Check(a->CloseWrite().ok(), "close write");
            }));
            absl::Status end;
            ctx.Check(ReadAll(ctx, *b, &end) == joined, "bytes reordered or lost");
            a->Close();
            b->Close();
          },
          seed, RunOptions{});
      ExpectOk(r);
      EXPECT_EQ(tapped, joined);
      hashes[static_cast<int>(how)] = r.trace_hash;
    }
    EXPECT_EQ(hashes[1], hashes[0]) << "seed " << seed;
    EXPECT_EQ(hashes[2], hashes[0]) << "seed " << seed;
  }
}

TEST(NetworkTest, ATapIsRefusedByATransportOfAnotherKind) {
  class Foreign final : public Transport {
   public:
    absl::StatusOr<size_t> Read(char*, size_t) override { return absl::UnavailableError("none"); }
    absl::Status Write(absl::string_view) override { return absl::OkStatus(); }
    absl::Status CloseWrite() override { return absl::OkStatus(); }
    void Close() override {}
  };
  Foreign foreign;
  std::string written, read;
  std::unique_ptr<SimNetwork::EndpointTap> tap = std::make_unique<RecordingTap>(&written, &read);
  EXPECT_FALSE(SimNetwork::SetTap(foreign, tap));
  EXPECT_NE(tap, nullptr);
}

TEST(NetworkTest, WriterBlocksWhileThePeersBufferIsFull) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        NetworkOptions net;
        net.link.buffer_bytes = 10;
        ctx.network().set_options(net);
        auto [a, b] = ctx.network().Pipe("p");
        bool write_done = false;
        DRPC_CHECK_OK(ctx.env().scheduler().Spawn("writer", [&, a = a.get()] {
          ctx.Check(a->Write(std::string(25, 'x')).ok(), "write");
          write_done = true;
        }));
        SleepFor(ctx.env(), Duration::Millis(1));
        ctx.Check(!write_done, "a 25-byte write finished with a 10-byte buffer and no reader");
        char buf[25];
        size_t got = 0;
        while (got < 25) got += *b->Read(buf + got, sizeof(buf) - got);
        SleepFor(ctx.env(), Duration::Millis(1));
        ctx.Check(write_done, "writer not released after the reader drained");
        a->Close();
        b->Close();
      },
      1, RunOptions{}));
}

TEST(NetworkTest, CloseWakesLocalWaitersAndThePeerSeesEofThenReset) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe("p");
        Signal reader_done(ctx.env());
        DRPC_CHECK_OK(ctx.env().scheduler().Spawn("blocked reader", [&, a = a.get()] {
          char c;
          absl::StatusOr<size_t> r = a->Read(&c, 1);
          ctx.Check(GetTransportErrorKind(r.status()) == TransportErrorKind::kClosedLocally,
                    r.status().ToString());
          reader_done.Set();
        }));
        ctx.Check(a->Write("hi").ok(), "write");
        SleepFor(ctx.env(), Duration::Millis(1));
        a->Close();
        reader_done.Wait("reader");
        absl::Status end;
        ctx.Check(ReadAll(ctx, *b, &end) == "hi", "in-flight bytes must arrive before EOF");
        ctx.Check(GetTransportErrorKind(end) == TransportErrorKind::kEof, end.ToString());
        ctx.Check(GetTransportErrorKind(b->Write("late")) == TransportErrorKind::kReset,
                  "writing to a closed peer must fail with a reset");
        ctx.Check(GetTransportErrorKind(a->Write("x")) == TransportErrorKind::kClosedLocally,
                  "writing after Close");
        b->Close();
      },
      1, RunOptions{}));
}

TEST(NetworkTest, WriteAfterCloseWriteFailsAndReadingContinues) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe("p");
        ctx.Check(a->CloseWrite().ok(), "close write");
        ctx.Check(GetTransportErrorKind(a->Write("x")) == TransportErrorKind::kWriteAfterClose,
                  "write after CloseWrite");
        ctx.Check(b->Write("reply").ok(), "peer still writes");
        char buf[8];
        absl::StatusOr<size_t> n = a->Read(buf, sizeof(buf));
        ctx.Check(n.ok() && *n >= 1, "half-closed side still reads");
        a->Close();
        b->Close();
      },
      1, RunOptions{}));
}

// The RST travels behind "abc". A reader already waiting when "abc" arrives reads it, then gets
// kReset when the RST arrives.
TEST(NetworkTest, ResetFaultDeliversTheBytesBeforeItToAWaitingReaderThenResets) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe("p", FaultPlan::ResetAt(Direction::kForward, 3));
        absl::Status w = a->Write("abcdef");
        ctx.Check(GetTransportErrorKind(w) == TransportErrorKind::kReset, w.ToString());
        char buf[8];
        absl::StatusOr<size_t> r = b->Read(buf, sizeof(buf));
        ctx.Check(r.ok() && std::string(buf, *r) == "abc",
                  absl::StrCat("first read: ", r.ok() ? std::string(buf, *r) : r.status().ToString()));
        r = b->Read(buf, sizeof(buf));
        ctx.Check(GetTransportErrorKind(r.status()) == TransportErrorKind::kReset,
                  absl::StrCat("second read: ", r.status().ToString()));
        ctx.Check(GetTransportErrorKind(b->Write("x")) == TransportErrorKind::kReset, "peer write");
        a->Close();
        b->Close();
      },
      1, RunOptions{}));
}

// As on Linux TCP, an arriving RST discards bytes received but not yet read: a reader that comes
// late gets kReset at once, and never "abc".
TEST(NetworkTest, ResetFaultDiscardsBytesArrivedButUnread) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe("p", FaultPlan::ResetAt(Direction::kForward, 3));
        absl::Status w = a->Write("abcdef");
        ctx.Check(GetTransportErrorKind(w) == TransportErrorKind::kReset, w.ToString());
        SleepFor(ctx.env(), Duration::Millis(1));  // "abc" and then the RST arrive meanwhile
        char buf[8];
        absl::StatusOr<size_t> r = b->Read(buf, sizeof(buf));
        ctx.Check(GetTransportErrorKind(r.status()) == TransportErrorKind::kReset,
                  absl::StrCat("late read: ", r.ok() ? std::string(buf, *r) : r.status().ToString()));
        a->Close();
        b->Close();
      },
      1, RunOptions{}));
}

// An empty write still reports why the connection cannot be written (impl/env.h's error kinds).
TEST(NetworkTest, EmptyWriteReportsClosedAndBrokenConnections) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe("p");
        ctx.Check(a->Write("").ok(), "empty write on an open connection");
        ctx.Check(a->CloseWrite().ok(), "close write");
        absl::Status s = a->Write("");
        ctx.Check(GetTransportErrorKind(s) == TransportErrorKind::kWriteAfterClose,
                  absl::StrCat("empty write after CloseWrite: ", s.ToString()));
        a->Close();
        s = a->Write("");
        ctx.Check(GetTransportErrorKind(s) == TransportErrorKind::kClosedLocally,
                  absl::StrCat("empty write after Close: ", s.ToString()));
        s = b->Write("");
        ctx.Check(GetTransportErrorKind(s) == TransportErrorKind::kReset,
                  absl::StrCat("empty write to a closed peer: ", s.ToString()));
        b->Close();

        auto [c, d] = ctx.network().Pipe("q", FaultPlan::ResetAt(Direction::kForward, 0));
        ctx.Check(GetTransportErrorKind(c->Write("x")) == TransportErrorKind::kReset, "reset");
        s = c->Write("");
        ctx.Check(GetTransportErrorKind(s) == TransportErrorKind::kReset,
                  absl::StrCat("empty write after a reset: ", s.ToString()));
        c->Close();
        d->Close();
      },
      1, RunOptions{}));
}

// Runs that differ only in the payload (same sizes, same timing, same decisions) must differ in
// their trace hash: the delivered bytes themselves are mixed in.
TEST(NetworkTest, DeliveredBytesAreMixedIntoTheTraceHash) {
  auto run = [](char fill) {
    const RunResult r = RunSeed(
        [fill](SimContext& ctx) {
          auto [a, b] = ctx.network().Pipe("p");
          ctx.Check(a->Write(std::string(20, fill)).ok(), "write");
          char buf[32];
          size_t got = 0;
          while (got < 20) got += *b->Read(buf + got, sizeof(buf) - got);
          a->Close();
          b->Close();
        },
        1, RunOptions{});
    EXPECT_TRUE(r.ok()) << r.message;
    return r.trace_hash;
  };
  EXPECT_EQ(run('a'), run('a'));
  EXPECT_NE(run('a'), run('b'));
}

TEST(NetworkTest, StallDelaysDeliveryWithoutLosingBytes) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        auto [a, b] = ctx.network().Pipe(
            "p", FaultPlan::StallAt(Direction::kForward, 0, Duration::Millis(30)));
        const Instant start = ctx.now();
        ctx.Check(a->Write("late").ok(), "write");
        char buf[8];
        size_t got = 0;
        while (got < 4) got += *b->Read(buf + got, sizeof(buf) - got);
        ctx.Check(ctx.now() - start >= Duration::Millis(30), "stall did not delay delivery");
        ctx.Check(std::string(buf, 4) == "late", "bytes changed");
        a->Close();
        b->Close();
      },
      1, RunOptions{}));
}

TEST(NetworkTest, DialWithoutListenerIsRefusedAndListenerCloseStopsAccept) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        absl::StatusOr<std::unique_ptr<Transport>> refused = ctx.network().Dial("nowhere");
        ctx.Check(!refused.ok(), "dial to nowhere succeeded");
        auto listener = ctx.network().Listen("srv");
        ctx.Check(listener.ok(), "listen");
        ctx.Check(!ctx.network().Listen("srv").ok(), "address reuse must fail");
        Signal accept_returned(ctx.env());
        DRPC_CHECK_OK(ctx.env().scheduler().Spawn("acceptor", [&] {
          absl::StatusOr<std::unique_ptr<Transport>> t = (*listener)->Accept();
          ctx.Check(absl::IsCancelled(t.status()), "accept after close: " + t.status().ToString());
          accept_returned.Set();
        }));
        SleepFor(ctx.env(), Duration::Millis(1));
        (*listener)->Close();
        accept_returned.Wait("acceptor");
      },
      1, RunOptions{}));
}

TEST(NetworkTest, LatencyAndBandwidthShapeDeliveryTime) {
  ExpectOk(RunSeed(
      [](SimContext& ctx) {
        NetworkOptions net;
        net.link.latency_min = net.link.latency_max = Duration::Millis(10);
        net.link.bandwidth_bytes_per_second = 1000;  // 1 byte per ms
        ctx.network().set_options(net);
        auto [a, b] = ctx.network().Pipe("p");
        const Instant start = ctx.now();
        ctx.Check(a->Write(std::string(20, 'z')).ok(), "write");
        char buf[32];
        size_t got = 0;
        while (got < 20) got += *b->Read(buf + got, sizeof(buf) - got);
        ctx.Check(ctx.now() - start == Duration::Millis(30),
                  absl::StrCat("delivery took ", (ctx.now() - start).ToString(), ", want 30ms"));
        a->Close();
        b->Close();
      },
      1, RunOptions{}));
}

}  // namespace
}  // namespace drpc::sim
