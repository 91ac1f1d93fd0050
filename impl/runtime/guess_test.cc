// Reactor::ExpectInput: a reader whose socket was just written to is woken on a guess (a recv
// before any epoll_wait) once another descriptor of its reactor was written to. Checked by the
// reactor's system-call and guess counters: a peer on the same reactor costs no epoll_wait, a
// silent peer costs few wasted recvs, a peer on another reactor costs none, and readiness of
// other descriptors is still collected while guesses keep succeeding.
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "impl/runtime/reactor.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/runtime/test_util.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

using testing::ConnectedPair;
using testing::StartRuntime;
using testing::TcpPair;
using testing::WaitSet;

constexpr size_t kMessageBytes = 64;

// Reads one message of kMessageBytes with a large buffer (a short read, as the connection reader
// makes between calls).
absl::Status ReadMessage(Transport& t) {
  char buf[8192];
  size_t got = 0;
  while (got < kMessageBytes) {
    absl::StatusOr<size_t> n = t.Read(buf, sizeof(buf));
    if (!n.ok()) return n.status();
    got += *n;
  }
  return got == kMessageBytes ? absl::OkStatus() : absl::DataLossError("read more than sent");
}

// Echoes messages on `t` until EOF.
void EchoUntilEof(Transport& t) {
  const std::string reply(kMessageBytes, 'r');
  while (ReadMessage(t).ok()) {
    if (!t.Write(reply).ok()) return;
  }
}

// A fiber on `r` echoing on `server` until EOF, then setting `done`.
void SpawnEcho(Reactor& r, Transport& server, Signal& done) {
  DRPC_CHECK_OK(r.Spawn("echo", [&server, &done] {
    EchoUntilEof(server);
    done.Set();
  }));
}

// `round_trips` messages from pair.client, each echoed by a fiber on pair.server's reactor.
absl::Status PingPong(TcpTransport& client, size_t round_trips) {
  const std::string request(kMessageBytes, 'q');
  for (size_t i = 0; i < round_trips; ++i) {
    if (absl::Status s = client.Write(request); !s.ok()) return s;
    if (absl::Status s = ReadMessage(client); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Listens on reactor `index` and serves the first accepted connection with `serve` in a fiber
// of that reactor; returns the listening address.
absl::StatusOr<std::string> ServeOneConnection(Runtime& rt, size_t index,
                                               std::function<void(Transport&)> serve) {
  return rt.Run(index, [&](Reactor& r) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
    if (!l.ok()) return l.status();
    std::string addr = (*l)->address();
    DRPC_CHECK_OK(r.Spawn("server", [l = *std::move(l), serve = std::move(serve)]() mutable {
      absl::StatusOr<std::unique_ptr<Transport>> t = l->Accept();
      if (t.ok()) serve(**t);
    }));
    return addr;
  });
}

TEST(GuessTest, APeerOnTheSameReactorIsReadWithoutEpollWait) {
  // No periodic poll while fibers stay runnable: every epoll_wait left is one the guesses did
  // not replace.
  auto rt = StartRuntime(1, ReactorOptions{.batches_per_poll = 1'000'000});
  absl::Status st = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    Signal echoed(r.env());
    SpawnEcho(r, *p->server, echoed);
    if (absl::Status s = PingPong(*p->client, 10); !s.ok()) return s;  // warm up
    constexpr size_t kRoundTrips = 1000;
    const Reactor::Stats before = r.stats();
    const uint64_t syscalls_before = r.syscall_count();
    if (absl::Status s = PingPong(*p->client, kRoundTrips); !s.ok()) return s;
    const Reactor::Stats after = r.stats();
    // A write and a read each way per round trip, as raw blocking sockets on one thread; an
    // epoll_wait only now and then (a stray event), where without guesses every message would
    // cost one. A turn that ran out collects readiness at once, and turns run out on the clock
    // (ReactorOptions::turn_max) whenever the machine deschedules this thread mid-turn: those
    // polls are the load's, counted apart.
    const uint64_t polls = after.polls - before.polls;
    const uint64_t turns_ended = after.turns_ended - before.turns_ended;
    EXPECT_LE(polls, turns_ended + kRoundTrips / 50) << turns_ended << " turns ran out";
    EXPECT_LE(r.syscall_count() - syscalls_before, 4 * kRoundTrips + 2 * polls);
    EXPECT_GE(after.guesses - before.guesses, 2 * kRoundTrips - 2 * polls);
    EXPECT_EQ(after.guesses_missed, before.guesses_missed);
    if (absl::Status s = p->client->CloseWrite(); !s.ok()) return s;
    return WaitSet(echoed, r.env(), "echo ended");
  });
  EXPECT_TRUE(st.ok()) << st;
}

TEST(GuessTest, ASilentPeerCostsFewWastedRecvsAndItsLateReplyIsRead) {
  auto rt = StartRuntime(1);
  absl::Status st = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> quiet = ConnectedPair(r);
    if (!quiet.ok()) return quiet.status();
    absl::StatusOr<TcpPair> busy = ConnectedPair(r);
    if (!busy.ok()) return busy.status();
    Signal echoed(r.env());
    SpawnEcho(r, *busy->server, echoed);
    Signal replied(r.env());
    absl::Status quiet_read;
    DRPC_CHECK_OK(r.Spawn("quiet reader", [&] {
      quiet_read = ReadMessage(*quiet->client);
      replied.Set();
    }));
    // Every write to the silent peer is followed by writes elsewhere, so each hint becomes a
    // guess unless the back-off holds it: without it, one wasted recv per write.
    constexpr size_t kWrites = 500;
    const Reactor::Stats before = r.stats();
    for (size_t i = 0; i < kWrites; ++i) {
      if (absl::Status s = quiet->client->Write("x"); !s.ok()) return s;
      if (absl::Status s = PingPong(*busy->client, 1); !s.ok()) return s;
    }
    const Reactor::Stats after = r.stats();
    EXPECT_LE(after.guesses_missed - before.guesses_missed, kWrites / 16);
    EXPECT_FALSE(replied.IsSet());
    // The peer answers at last: the reader, parked after its misses, gets the bytes.
    if (absl::Status s = quiet->server->Write(std::string(kMessageBytes, 'l')); !s.ok()) return s;
    if (absl::Status s = WaitSet(replied, r.env(), "late reply"); !s.ok()) return s;
    EXPECT_TRUE(quiet_read.ok()) << quiet_read;
    if (absl::Status s = busy->client->CloseWrite(); !s.ok()) return s;
    return WaitSet(echoed, r.env(), "echo ended");
  });
  EXPECT_TRUE(st.ok()) << st;
}

TEST(GuessTest, APeerOnAnotherReactorIsNeverGuessed) {
  auto rt = StartRuntime(2);
  absl::StatusOr<std::string> address = ServeOneConnection(*rt, 0, EchoUntilEof);
  ASSERT_TRUE(address.ok()) << address.status();
  absl::Status st = rt->Run(1, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpTransport>> c = Dial(r, *address);
    if (!c.ok()) return c.status();
    const Reactor::Stats before = r.stats();
    if (absl::Status s = PingPong(**c, 200); !s.ok()) return s;
    // The client's reactor writes only to this one socket: nothing here can have answered it.
    EXPECT_EQ(r.stats().guesses, before.guesses);
    return (*c)->CloseWrite();
  });
  EXPECT_TRUE(st.ok()) << st;
}

TEST(GuessTest, ReadinessElsewhereIsCollectedWhileGuessesKeepSucceeding) {
  auto rt = StartRuntime(2);
  absl::StatusOr<std::string> address = ServeOneConnection(*rt, 1, [](Transport& t) {
    // Written while reactor 0 is busy with its ping-pong.
    t.Write(std::string(kMessageBytes, 'w')).IgnoreError();
    char buf[16];
    t.Read(buf, sizeof(buf)).IgnoreError();  // until reactor 0 closes
  });
  ASSERT_TRUE(address.ok()) << address.status();
  absl::Status st = rt->Run(0, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpTransport>> remote = Dial(r, *address);
    if (!remote.ok()) return remote.status();
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    Signal echoed(r.env());
    SpawnEcho(r, *p->server, echoed);
    bool remote_read = false;
    Signal remote_done(r.env());
    DRPC_CHECK_OK(r.Spawn("remote reader", [&] {
      remote_read = ReadMessage(**remote).ok();
      remote_done.Set();
    }));
    // The ping-pong never leaves the loop without a runnable fiber or a guess to make; the remote
    // bytes are seen only through the periodic poll (a hang here would mean none came).
    while (!remote_done.IsSet()) {
      if (absl::Status s = PingPong(*p->client, 1); !s.ok()) return s;
    }
    EXPECT_TRUE(remote_read);
    (*remote)->Close();
    if (absl::Status s = p->client->CloseWrite(); !s.ok()) return s;
    return WaitSet(echoed, r.env(), "echo ended");
  });
  EXPECT_TRUE(st.ok()) << st;
}

}  // namespace
}  // namespace drpc::runtime
