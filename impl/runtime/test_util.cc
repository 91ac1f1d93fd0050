#include "impl/runtime/test_util.h"

#include <dirent.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace drpc::runtime::testing {

std::unique_ptr<Runtime> StartRuntime(size_t reactors, ReactorOptions reactor) {
  absl::StatusOr<std::unique_ptr<Runtime>> rt =
      Runtime::Start(RuntimeOptions{.reactor_count = reactors, .reactor = reactor});
  EXPECT_TRUE(rt.ok()) << rt.status();
  return rt.ok() ? *std::move(rt) : nullptr;
}

absl::StatusOr<TcpPair> ConnectedPair(Reactor& reactor, const DialOptions& dial) {
  absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(reactor, "127.0.0.1:0");
  if (!l.ok()) return l.status();
  TcpPair pair;
  // The kernel completes the handshake into the backlog, so dialing before accepting is fine.
  absl::StatusOr<std::unique_ptr<TcpTransport>> c = Dial(reactor, (*l)->address(), dial);
  if (!c.ok()) return c.status();
  absl::StatusOr<std::unique_ptr<Transport>> s = (*l)->Accept();
  if (!s.ok()) return s.status();
  pair.client = *std::move(c);
  pair.server = *std::move(s);
  return pair;
}

absl::Status WaitUntilParked(Reactor& reactor, absl::string_view reason) {
  const Instant bound = reactor.Now() + Duration::Seconds(10);
  for (;;) {
    for (const Reactor::ParkedFiber& f : reactor.ParkedFibers()) {
      if (f.reason == reason) return absl::OkStatus();
    }
    if (reactor.Now() > bound) {
      return absl::DeadlineExceededError(absl::StrCat("no fiber parked with \"", reason, "\""));
    }
    reactor.Yield();
  }
}

absl::Status WaitSet(Signal& signal, Env& env, absl::string_view what) {
  if (!signal.Wait(what, env.clock().Now() + Duration::Seconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat("timed out: ", what));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadToEof(Transport& t) {
  std::string out;
  char buf[65536];
  for (;;) {
    absl::StatusOr<size_t> n = t.Read(buf, sizeof(buf));
    if (!n.ok()) {
      if (GetTransportErrorKind(n.status()) == TransportErrorKind::kEof) return out;
      return n.status();
    }
    out.append(buf, *n);
  }
}

absl::StatusOr<std::string> ReadExactly(Transport& t, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    absl::StatusOr<size_t> r = t.Read(out.data() + got, n - got);
    if (!r.ok()) return r.status();
    got += *r;
  }
  return out;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count - 3;  // ".", ".." and the directory's own descriptor
}

}  // namespace drpc::runtime::testing
