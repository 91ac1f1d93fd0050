#include "tools/bench/raw_tcp.h"

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace drpc::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

absl::Status Errno(const char* what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Owns both ends of a connected loopback TCP pair.
struct SocketPair {
  int client = -1;
  int server = -1;
  SocketPair() = default;
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  ~SocketPair() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
};

absl::Status MakePair(SocketPair& pair, bool non_blocking) {
  std::vector<std::pair<int, int>> made;
  absl::Status st = ConnectLoopbackPairs(1, non_blocking, made);
  if (!made.empty()) std::tie(pair.client, pair.server) = made.front();
  return st;
}

// Reads or writes exactly `size` bytes; on a non-blocking socket waits with poll on EAGAIN.
bool ReadFull(int fd, char* buf, size_t size) {
  while (size > 0) {
    const ssize_t n = read(fd, buf, size);
    if (n > 0) {
      buf += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, 1000);
    } else {
      return false;
    }
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, buf, size, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1000);
    } else {
      return false;
    }
  }
  return true;
}

uint64_t NanosSince(SteadyClock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t0).count());
}

}  // namespace

absl::StatusOr<PingPongResult> RawPingPong(RawTcpShape shape, size_t message_bytes,
                                           absl::Duration duration) {
  SocketPair pair;
  if (absl::Status st = MakePair(pair, shape == RawTcpShape::kOneThread); !st.ok()) return st;
  std::string out(message_bytes, 'p');
  std::string in(message_bytes, '\0');
  std::string echo(message_bytes, '\0');
  PingPongResult result;
  std::thread server;
  if (shape == RawTcpShape::kTwoThreads) {
    server = std::thread([&pair, &echo] {
      while (ReadFull(pair.server, echo.data(), echo.size()) &&
             WriteFull(pair.server, echo.data(), echo.size())) {
      }
    });
  }
  const auto start = SteadyClock::now();
  const auto end = start + absl::ToChronoNanoseconds(duration);
  bool ok = true;
  uint64_t round_trips = 0;
  for (auto now = start; now < end && ok; now = SteadyClock::now(), ++round_trips) {
    ok = WriteFull(pair.client, out.data(), out.size());
    if (ok && shape == RawTcpShape::kOneThread) {
      ok = ReadFull(pair.server, echo.data(), echo.size()) &&
           WriteFull(pair.server, echo.data(), echo.size());
    }
    ok = ok && ReadFull(pair.client, in.data(), in.size());
    result.latency_ns.Record(NanosSince(now));
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  shutdown(pair.client, SHUT_RDWR);  // ends the server thread's loop
  if (server.joinable()) server.join();
  if (!ok) return absl::UnavailableError("raw ping-pong: socket error");
  result.round_trips_per_second = round_trips / elapsed;
  return result;
}

absl::StatusOr<double> RawBulk(RawTcpShape shape, size_t chunk_bytes, absl::Duration duration) {
  SocketPair pair;
  if (absl::Status st = MakePair(pair, shape == RawTcpShape::kOneThread); !st.ok()) return st;
  const std::string chunk(chunk_bytes, 'b');
  std::vector<char> sink(1 << 20);
  uint64_t received = 0;
  const auto start = SteadyClock::now();
  const auto end = start + absl::ToChronoNanoseconds(duration);
  if (shape == RawTcpShape::kTwoThreads) {
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      while (!stop.load(std::memory_order_relaxed) &&
             WriteFull(pair.client, chunk.data(), chunk.size())) {
      }
      shutdown(pair.client, SHUT_WR);
    });
    for (;;) {
      const ssize_t n = read(pair.server, sink.data(), sink.size());
      if (n <= 0) break;
      received += static_cast<uint64_t>(n);
      if (SteadyClock::now() >= end) stop.store(true);
    }
    writer.join();
  } else {
    // Alternate: write until the socket buffer is full, then drain the other end.
    size_t offset = 0;  // into the current chunk
    while (SteadyClock::now() < end) {
      for (;;) {
        const ssize_t n = send(pair.client, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL);
        if (n <= 0) break;
        offset = (offset + static_cast<size_t>(n)) % chunk.size();
      }
      for (;;) {
        const ssize_t n = read(pair.server, sink.data(), sink.size());
        if (n <= 0) break;
        received += static_cast<uint64_t>(n);
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return received / elapsed;
}

absl::Status ConnectLoopbackPairs(size_t count, bool non_blocking,
                                  std::vector<std::pair<int, int>>& pairs) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  absl::Status st;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 128) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    st = Errno("listen");
  }
  const int one = 1;
  for (size_t i = 0; i < count && st.ok(); ++i) {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      st = Errno("connect");
      if (c >= 0) close(c);
      break;
    }
    const int s = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) {
      st = Errno("accept");
      close(c);
      break;
    }
    for (int fd : {c, s}) {
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (non_blocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    pairs.emplace_back(c, s);
  }
  close(listener);
  return st;
}

}  // namespace drpc::bench
