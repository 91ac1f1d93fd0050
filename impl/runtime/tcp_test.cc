// TcpTransport, TcpListener and Dial over real loopback sockets: data, half close, resets, local
// close waking blocked fibers, error kinds, dial failures.
#include "impl/runtime/tcp.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/test_util.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

using testing::ConnectedPair;
using testing::ReadExactly;
using testing::ReadToEof;
using testing::StartRuntime;
using testing::TcpPair;
using testing::WaitSet;
using testing::WaitUntilParked;

std::optional<TransportErrorKind> KindOf(const absl::Status& s) { return GetTransportErrorKind(s); }

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// The server end accepts on reactor 0 and echoes until EOF; the client runs on reactor 1, so the
// bytes cross threads only through the kernel.
TEST(TcpTest, EchoAcrossReactorsOverLoopback) {
  auto rt = StartRuntime(2);
  runtime_internal::Latch served(1);
  absl::StatusOr<std::string> address = rt->Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
    if (!l.ok()) return l.status();
    std::string addr = (*l)->address();
    DRPC_CHECK_OK(r.Spawn("echo server", [&, l = *std::move(l)]() mutable {
      absl::StatusOr<std::unique_ptr<Transport>> t = l->Accept();
      EXPECT_TRUE(t.ok()) << t.status();
      char buf[8192];
      while (t.ok()) {
        absl::StatusOr<size_t> n = (*t)->Read(buf, sizeof(buf));
        if (!n.ok()) {
          EXPECT_EQ(KindOf(n.status()), TransportErrorKind::kEof) << n.status();
          break;
        }
        ASSERT_TRUE((*t)->Write(absl::string_view(buf, *n)).ok());
      }
      t = absl::CancelledError("done");
      l.reset();
      served.CountDown();
    }));
    return addr;
  });
  ASSERT_TRUE(address.ok()) << address.status();
  const std::string payload = Pattern(1 << 20);
  absl::StatusOr<std::string> echoed = rt->Run(1, [&](Reactor& r) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::unique_ptr<TcpTransport>> c = Dial(r, *address);
    if (!c.ok()) return c.status();
    Signal written(r.env());
    DRPC_CHECK_OK(r.Spawn("writer", [&] {
      EXPECT_TRUE((*c)->Write(payload).ok());
      EXPECT_TRUE((*c)->CloseWrite().ok());
      written.Set();
    }));
    absl::StatusOr<std::string> back = ReadToEof(**c);
    if (absl::Status w = WaitSet(written, r.env(), "writer"); !w.ok()) return w;
    return back;
  });
  served.Wait();
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_TRUE(*echoed == payload) << "echo differs; got " << echoed->size() << " bytes";
}

// Runs `body` on the client and server ends of a connected pair, with a watchdog that closes
// the server end after 10 s: a Read that hangs (the bug such a test looks for) then fails the
// test's expectations instead of timing the test out.
void RunOnWatchedPair(absl::FunctionRef<void(Reactor&, TcpTransport*, Transport*)> body) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    Transport* t = p->server.get();
    const TimerId watchdog = r.ScheduleAt(r.Now() + Duration::Seconds(10), [&] { t->Close(); });
    body(r, p->client.get(), t);
    r.Cancel(watchdog);
    p->client->Close();
    t->Close();
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// After a read that emptied the socket, the next Read waits for readiness instead of trying a
// recv first: bytes (and the EOF) that arrived in between must still be delivered, not missed.
TEST(TcpTest, BytesArrivingAfterAShortReadAreDelivered) {
  RunOnWatchedPair([](Reactor& r, TcpTransport* c, Transport* t) {
    char buf[100];
    EXPECT_TRUE(c->Write("0123456789").ok());
    absl::StatusOr<size_t> n = t->Read(buf, sizeof(buf));  // everything there: a short read
    EXPECT_TRUE(n.ok() && absl::string_view(buf, *n) == "0123456789") << n.status();
    EXPECT_TRUE(c->Write("abcde").ok());  // arrives before the next Read starts
    n = t->Read(buf, sizeof(buf));
    EXPECT_TRUE(n.ok() && absl::string_view(buf, *n) == "abcde") << n.status();
    // Bytes whose readiness event the loop takes while no fiber is reading (an echo server
    // blocked in its Write, here a sleep): the next Read must still recv them.
    EXPECT_TRUE(c->Write("fgh").ok());
    SleepFor(r.env(), Duration::Millis(20), "test: the loop polls meanwhile");
    n = t->Read(buf, sizeof(buf));
    EXPECT_TRUE(n.ok() && absl::string_view(buf, *n) == "fgh") << n.status();
    // The last bytes and the FIN behind them, both reported before the Read: the short read
    // returns the bytes, and the FIN whose event is already taken must still end the next Read.
    EXPECT_TRUE(c->Write("ij").ok());
    EXPECT_TRUE(c->CloseWrite().ok());
    SleepFor(r.env(), Duration::Millis(20), "test: the loop polls meanwhile");
    n = t->Read(buf, sizeof(buf));
    EXPECT_TRUE(n.ok() && absl::string_view(buf, *n) == "ij") << n.status();
    n = t->Read(buf, sizeof(buf));
    EXPECT_EQ(KindOf(n.status()), TransportErrorKind::kEof) << n.status();
  });
}

// ReadV fills its buffers in order in one readv: the first completely before the second gets
// a byte, and never more than they hold together.
TEST(TcpTest, ReadVFillsItsBuffersInOrder) {
  RunOnWatchedPair([](Reactor& r, TcpTransport* c, Transport* t) {
    const std::string sent = Pattern(1000);
    EXPECT_TRUE(c->Write(sent).ok());
    SleepFor(r.env(), Duration::Millis(20), "test: the bytes arrive");
    std::string first(300, '\0');
    std::string second(500, '\0');
    const absl::Span<char> spans[2] = {absl::MakeSpan(first), absl::MakeSpan(second)};
    absl::StatusOr<size_t> n = t->ReadV(spans);
    EXPECT_TRUE(n.ok() && *n == 800) << n.status();
    EXPECT_EQ(first, sent.substr(0, 300));
    EXPECT_EQ(second, sent.substr(300, 500));
    // What is left (200 bytes) ends in the first buffer: a short read.
    n = t->ReadV(spans);
    EXPECT_TRUE(n.ok() && *n == 200) << n.status();
    EXPECT_EQ(first.substr(0, 200), sent.substr(800));
    EXPECT_TRUE(c->CloseWrite().ok());
    n = t->ReadV(spans);
    EXPECT_EQ(KindOf(n.status()), TransportErrorKind::kEof) << n.status();
  });
}

TEST(TcpTest, CloseWriteDeliversEofWhileReadingContinues) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    EXPECT_TRUE(p->client->Write("ping").ok());
    EXPECT_TRUE(p->client->CloseWrite().ok());
    EXPECT_TRUE(p->client->CloseWrite().ok()) << "idempotent";
    absl::StatusOr<std::string> got = ReadToEof(*p->server);
    EXPECT_EQ(got.value_or("?"), "ping");
    // The half-closed client still reads.
    EXPECT_TRUE(p->server->Write("pong").ok());
    p->server->Close();
    EXPECT_EQ(ReadToEof(*p->client).value_or("?"), "pong");
    absl::Status after = p->client->Write("more");
    EXPECT_EQ(KindOf(after), TransportErrorKind::kWriteAfterClose) << after;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, PeerResetIsReportedAsResetToReadAndWrite) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    auto* server = static_cast<TcpTransport*>(p->server.get());
    // SO_LINGER with a zero timeout turns close() into a RST.
    linger lg{1, 0};
    setsockopt(server->native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    server->Close();
    char buf[16];
    absl::StatusOr<size_t> n = p->client->Read(buf, sizeof(buf));
    EXPECT_EQ(KindOf(n.status()), TransportErrorKind::kReset) << n.status();
    absl::StatusOr<size_t> again = p->client->Read(buf, sizeof(buf));
    EXPECT_FALSE(again.ok()) << "errors are sticky";
    absl::Status w = p->client->Write("after reset");
    EXPECT_EQ(KindOf(w), TransportErrorKind::kReset) << w;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, CloseWakesBlockedRead) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    Signal done(r.env());
    absl::Status read_error;
    DRPC_CHECK_OK(r.Spawn("reader", [&] {
      char buf[16];
      read_error = p->client->Read(buf, sizeof(buf)).status();
      done.Set();
    }));
    if (absl::Status w = WaitUntilParked(r, "tcp read: waiting for bytes"); !w.ok()) return w;
    p->client->Close();
    if (absl::Status w = WaitSet(done, r.env(), "reader"); !w.ok()) return w;
    EXPECT_EQ(KindOf(read_error), TransportErrorKind::kClosedLocally) << read_error;
    // The peer sees the connection end.
    EXPECT_TRUE(ReadToEof(*p->server).ok());
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

// WriteV: many pieces (more than IOV_MAX, so several sendmsg calls), empty pieces anywhere, and
// a small send buffer (partial sends and EAGAIN in the middle of pieces). The peer must read exactly the concatenation.
TEST(TcpTest, WriteVSendsTheConcatenationThroughPartialWritesAndManyPieces) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    // A small send buffer: sendmsg accepts only part of the pieces, then EAGAIN.
    const int small = 16384;
    setsockopt(p->client->native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    const std::string bytes = Pattern(1 << 20);
    std::vector<absl::string_view> pieces;
    std::string want;
    size_t off = 0;
    for (size_t i = 0; off < bytes.size(); ++i) {
      if (i % 5 == 0) pieces.push_back("");  // empty pieces are skipped
      const size_t n = std::min<size_t>(bytes.size() - off, i < 3000 ? 1 + i % 17 : 50000);
      pieces.push_back(absl::string_view(bytes).substr(off, n));
      want.append(bytes, off, n);
      off += n;
    }
    pieces.push_back("");
    EXPECT_GT(pieces.size(), size_t{IOV_MAX});
    Signal done(r.env());
    absl::Status write_status;
    DRPC_CHECK_OK(r.Spawn("writer", [&] {
      write_status = p->client->WriteV(pieces);
      p->client->CloseWrite().IgnoreError();
      done.Set();
    }));
    absl::StatusOr<std::string> got = ReadToEof(*p->server);
    if (absl::Status w = WaitSet(done, r.env(), "writer"); !w.ok()) return w;
    EXPECT_TRUE(write_status.ok()) << write_status;
    EXPECT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got.value_or("") == want) << "got " << got.value_or("").size() << " bytes of "
                                          << want.size();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

// TryWriteV takes what the socket accepts without waiting (the peer is not reading), and what it
// reports taken is exactly what the peer then reads; after close it reports the state.
TEST(TcpTest, TryWriteVTakesWhatTheSocketAcceptsWithoutWaiting) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    const int small = 16384;
    setsockopt(p->client->native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    const std::string bytes = Pattern(16 << 20);  // far more than the socket buffers hold
    std::vector<absl::string_view> pieces = {"", absl::string_view(bytes).substr(0, 7), "",
                                             absl::string_view(bytes).substr(7)};
    absl::StatusOr<size_t> taken = p->client->TryWriteV(pieces);
    EXPECT_TRUE(taken.ok()) << taken.status();
    EXPECT_GT(taken.value_or(0), size_t{7});
    EXPECT_LT(taken.value_or(0), bytes.size());
    std::vector<absl::string_view> empties = {"", ""};
    EXPECT_EQ(p->client->TryWriteV(empties).value_or(1), size_t{0});
    EXPECT_TRUE(p->client->CloseWrite().ok());
    absl::StatusOr<std::string> got = ReadToEof(*p->server);
    EXPECT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got.value_or("") == bytes.substr(0, taken.value_or(0)))
        << "read " << got.value_or("").size() << " bytes, taken " << taken.value_or(0);
    EXPECT_EQ(KindOf(p->client->TryWriteV(pieces).status()), TransportErrorKind::kWriteAfterClose);
    p->client->Close();
    EXPECT_EQ(KindOf(p->client->TryWriteV(pieces).status()), TransportErrorKind::kClosedLocally);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, WriteVOfOnlyEmptyPiecesAndAfterCloseReportsTheState) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    std::vector<absl::string_view> empties = {"", ""};
    EXPECT_TRUE(p->client->WriteV(empties).ok());
    EXPECT_TRUE(p->client->WriteV({}).ok());
    std::vector<absl::string_view> some = {"ab", "", "c"};
    EXPECT_TRUE(p->client->WriteV(some).ok());
    EXPECT_TRUE(p->client->CloseWrite().ok());
    EXPECT_EQ(ReadToEof(*p->server).value_or("?"), "abc");
    EXPECT_EQ(KindOf(p->client->WriteV(some)), TransportErrorKind::kWriteAfterClose);
    EXPECT_EQ(KindOf(p->client->WriteV(empties)), TransportErrorKind::kWriteAfterClose);
    p->client->Close();
    EXPECT_EQ(KindOf(p->client->WriteV(some)), TransportErrorKind::kClosedLocally);
    EXPECT_EQ(KindOf(p->client->WriteV({})), TransportErrorKind::kClosedLocally);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, WriteVSendsTheWritePrefixFirstAndOnce) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    p->client->SetWritePrefix("PFX!");
    std::vector<absl::string_view> one = {"x", "y"};
    EXPECT_TRUE(p->client->WriteV(one).ok());
    EXPECT_TRUE(p->client->WriteV(one).ok());
    EXPECT_TRUE(p->client->CloseWrite().ok());
    EXPECT_EQ(ReadToEof(*p->server).value_or("?"), "PFX!xyxy");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, CloseWakesBlockedWrite) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    // Small buffers on both sides and a peer that never reads: the write must block.
    const int small = 4096;
    setsockopt(p->client->native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    auto* server = static_cast<TcpTransport*>(p->server.get());
    setsockopt(server->native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    Signal done(r.env());
    absl::Status write_error;
    const std::string big(8 << 20, 'x');
    DRPC_CHECK_OK(r.Spawn("writer", [&] {
      write_error = p->client->Write(big);
      done.Set();
    }));
    if (absl::Status w = WaitUntilParked(r, "tcp write: socket buffer full"); !w.ok()) return w;
    p->client->Close();
    if (absl::Status w = WaitSet(done, r.env(), "writer"); !w.ok()) return w;
    EXPECT_EQ(KindOf(write_error), TransportErrorKind::kClosedLocally) << write_error;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, OperationsAfterLocalCloseReportClosedLocally) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    p->client->Close();
    p->client->Close();  // idempotent
    char buf[4];
    EXPECT_EQ(KindOf(p->client->Read(buf, 4).status()), TransportErrorKind::kClosedLocally);
    EXPECT_EQ(KindOf(p->client->Write("x")), TransportErrorKind::kClosedLocally);
    EXPECT_EQ(KindOf(p->client->CloseWrite()), TransportErrorKind::kClosedLocally);
    EXPECT_EQ(p->client->native_handle(), -1);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, DialToClosedPortIsRefused) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    std::string addr;
    {
      absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
      if (!l.ok()) return l.status();
      addr = (*l)->address();
    }  // closed: nothing listens on the port any more
    absl::StatusOr<std::unique_ptr<TcpTransport>> c = Dial(r, addr);
    EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
    EXPECT_NE(c.status().message().find("refused"), absl::string_view::npos) << c.status();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

// TcpDialer is the runtime's Dialer (impl/env.h): connects like Dial, refusals are kUnavailable,
// and a deadline already past fails with kDeadlineExceeded instead of waiting for the connect.
TEST(TcpTest, TcpDialerConnectsAndReportsRefusalsAndPastDeadlines) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    TcpDialer tcp(r);
    Dialer& dialer = tcp;
    absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
    if (!l.ok()) return l.status();
    absl::StatusOr<std::unique_ptr<Transport>> c =
        dialer.Dial((*l)->address(), r.Now() + Duration::Seconds(5));
    EXPECT_TRUE(c.ok()) << c.status();
    absl::StatusOr<std::unique_ptr<Transport>> t = (*l)->Accept();
    EXPECT_TRUE(t.ok()) << t.status();
    if (c.ok() && t.ok()) {
      EXPECT_TRUE((*c)->Write("hi").ok());
      EXPECT_EQ(ReadExactly(**t, 2).value_or(""), "hi");
      (*c)->Close();
      (*t)->Close();
    }
    const std::string addr = (*l)->address();
    l->reset();  // nothing listens on the port any more
    absl::StatusOr<std::unique_ptr<Transport>> refused =
        dialer.Dial(addr, r.Now() + Duration::Seconds(5));
    EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
    // 192.0.2.1 (TEST-NET-1) never answers: with the deadline already past, the connect that
    // would be pending times out at once (an unreachable network is refused at once instead).
    absl::StatusOr<std::unique_ptr<Transport>> late = dialer.Dial("192.0.2.1:9", r.Now());
    EXPECT_TRUE(absl::IsDeadlineExceeded(late.status()) || absl::IsUnavailable(late.status()))
        << late.status();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, BadAddressesAreInvalidArguments) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    for (absl::string_view bad : {"127.0.0.1", "127.0.0.1:99999", "example.com:80", "1.2.3:x"}) {
      EXPECT_TRUE(absl::IsInvalidArgument(Dial(r, bad).status())) << bad;
      EXPECT_TRUE(absl::IsInvalidArgument(TcpListener::Listen(r, bad).status())) << bad;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, ListenOnTakenPortFails) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpListener>> a = TcpListener::Listen(r, "127.0.0.1:0");
    if (!a.ok()) return a.status();
    absl::StatusOr<std::unique_ptr<TcpListener>> b = TcpListener::Listen(r, (*a)->address());
    EXPECT_TRUE(absl::IsAlreadyExists(b.status())) << b.status();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(TcpTest, ListenerCloseWakesBlockedAccept) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
    if (!l.ok()) return l.status();
    Signal done(r.env());
    absl::Status accept_error;
    DRPC_CHECK_OK(r.Spawn("acceptor", [&] {
      accept_error = (*l)->Accept().status();
      done.Set();
    }));
    if (absl::Status w = WaitUntilParked(r, "tcp accept: waiting for connections"); !w.ok()) return w;
    (*l)->Close();
    if (absl::Status w = WaitSet(done, r.env(), "acceptor"); !w.ok()) return w;
    EXPECT_TRUE(absl::IsCancelled(accept_error)) << accept_error;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace drpc::runtime
