#include "tools/bench/many_connections.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "impl/context.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "tools/bench/alloc_counter.h"
#include "tools/bench/drpc_bench.h"
#include "tools/bench/raw_tcp.h"

namespace drpc::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

uint64_t NanosBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// --- Raw epoll echo ------------------------------------------------------------------------------

// One side of one raw connection: its socket and the bytes of the current message so far.
struct RawEnd {
  int fd = -1;
  size_t have = 0;
  SteadyClock::time_point sent;
};

// Connects `count` non-blocking loopback pairs; client ends in `clients`, server ends in `servers`.
absl::Status MakePairs(size_t count, std::vector<RawEnd>& clients, std::vector<RawEnd>& servers) {
  std::vector<std::pair<int, int>> pairs;
  absl::Status st = ConnectLoopbackPairs(count, /*non_blocking=*/true, pairs);
  for (const auto& [c, s] : pairs) {
    clients.push_back({.fd = c});
    servers.push_back({.fd = s});
  }
  return st;
}

// Runs an epoll loop over ends [begin, end) of `ends` until `stop`. Server: echo every complete
// message. Client: send one message per connection, and another each time the reply is complete,
// recording its round trip, until `deadline`.
void RawLoop(std::vector<RawEnd>& ends, size_t begin, size_t end, size_t message_bytes,
             bool client, SteadyClock::time_point deadline, const std::atomic<bool>& stop,
             ManyConnectionsResult* result) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  DRPC_CHECK(ep >= 0);
  std::string out(message_bytes, 'r');
  std::vector<char> in(message_bytes);
  for (size_t i = begin; i < end; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    DRPC_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ends[i].fd, &ev) == 0);
    if (client) {
      ends[i].sent = SteadyClock::now();
      DRPC_CHECK(send(ends[i].fd, out.data(), out.size(), MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(out.size()));
    }
  }
  std::vector<epoll_event> events(256);
  while (!stop.load(std::memory_order_relaxed)) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
    for (int e = 0; e < n; ++e) {
      RawEnd& c = ends[events[e].data.u64];
      const ssize_t got = read(c.fd, in.data(), message_bytes - c.have);
      if (got <= 0) continue;
      c.have += static_cast<size_t>(got);
      if (c.have < message_bytes) continue;
      c.have = 0;
      const auto now = SteadyClock::now();
      if (client) {
        result->latency_ns.Record(NanosBetween(c.sent, now));
        ++result->calls;
        if (now >= deadline) continue;  // this connection is done
        c.sent = now;
      }
      // 64 B on an idle loopback socket: the send buffer always takes it whole.
      send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
    }
    if (client && SteadyClock::now() >= deadline + std::chrono::milliseconds(20)) break;
  }
  close(ep);
}

}  // namespace

absl::StatusOr<ManyConnectionsResult> RawEpollEcho(size_t threads, size_t connections,
                                                   size_t message_bytes, absl::Duration duration) {
  std::vector<RawEnd> clients, servers;
  clients.reserve(connections);
  servers.reserve(connections);
  absl::Status st = MakePairs(connections, clients, servers);
  if (st.ok()) {
    std::atomic<bool> stop_servers{false}, stop_clients{false};
    std::vector<ManyConnectionsResult> per_thread(threads);
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; ++t) {
      const size_t begin = connections * t / threads, end = connections * (t + 1) / threads;
      workers.emplace_back(RawLoop, std::ref(servers), begin, end, message_bytes, false,
                           SteadyClock::time_point(), std::cref(stop_servers), nullptr);
    }
    const auto start = SteadyClock::now();
    const auto deadline = start + absl::ToChronoNanoseconds(duration);
    std::vector<std::thread> callers;
    for (size_t t = 0; t < threads; ++t) {
      const size_t begin = connections * t / threads, end = connections * (t + 1) / threads;
      callers.emplace_back(RawLoop, std::ref(clients), begin, end, message_bytes, true, deadline,
                           std::cref(stop_clients), &per_thread[t]);
    }
    for (std::thread& c : callers) c.join();
    const double elapsed = std::chrono::duration<double>(deadline - start).count();
    stop_servers.store(true);
    for (std::thread& w : workers) w.join();
    ManyConnectionsResult total;
    for (const ManyConnectionsResult& r : per_thread) {
      total.latency_ns.Merge(r.latency_ns);
      total.calls += r.calls;
    }
    total.calls_per_second = total.calls / elapsed;
    for (RawEnd& e : clients) close(e.fd);
    for (RawEnd& e : servers) close(e.fd);
    return total;
  }
  for (RawEnd& e : clients) close(e.fd);
  for (RawEnd& e : servers) close(e.fd);
  return st;
}

// --- drpc ----------------------------------------------------------------------------------------

namespace {

// The connections one client reactor owns (touched only by that reactor's fibers).
struct ClientShard {
  std::vector<std::unique_ptr<Conn>> conns;
  ManyConnectionsResult result;
  absl::Status error;
};

absl::Status Dial(DrpcBench& bench, size_t reactor, size_t count, ClientShard& shard) {
  return bench.client_runtime().Run(reactor, [&](runtime::Reactor& r) -> absl::Status {
    const std::string payload(64, 'w');
    for (size_t i = 0; i < count; ++i) {
      absl::StatusOr<std::unique_ptr<Conn>> conn = bench.Connect(r);
      if (!conn.ok()) return conn.status();
      CallContext ctx(r.env());
      absl::StatusOr<std::string> reply = (*conn)->Invoke(ctx, kUnaryRpc, payload);
      if (!reply.ok()) return reply.status();
      shard.conns.push_back(*std::move(conn));
    }
    return absl::OkStatus();
  });
}

// One caller fiber per connection of the shard, closed loop until `deadline`.
absl::Status CallUntil(DrpcBench& bench, size_t reactor, size_t message_bytes,
                       SteadyClock::time_point deadline, ClientShard& shard) {
  return bench.client_runtime().Run(reactor, [&](runtime::Reactor& r) -> absl::Status {
    const std::string payload(message_bytes, 'u');
    std::vector<ManyConnectionsResult> per_conn(shard.conns.size());
    std::vector<absl::Status> errors(shard.conns.size());
    WaitGroup callers(r.env());
    for (size_t i = 0; i < shard.conns.size(); ++i) {
      callers.Add();
      DRPC_CHECK_OK(r.Spawn(absl::StrCat("bench caller ", i), [&, i] {
        for (auto t = SteadyClock::now(); t < deadline; t = SteadyClock::now()) {
          CallContext ctx(r.env());
          absl::StatusOr<std::string> reply = shard.conns[i]->Invoke(ctx, kUnaryRpc, payload);
          if (!reply.ok()) {
            errors[i] = reply.status();
            break;
          }
          per_conn[i].latency_ns.Record(NanosBetween(t, SteadyClock::now()));
          ++per_conn[i].calls;
        }
        callers.Done();
      }));
    }
    callers.Wait("bench: joining the callers");
    for (size_t i = 0; i < per_conn.size(); ++i) {
      if (!errors[i].ok()) return errors[i];
      shard.result.latency_ns.Merge(per_conn[i].latency_ns);
      shard.result.calls += per_conn[i].calls;
    }
    return absl::OkStatus();
  });
}

void CloseAll(DrpcBench& bench, size_t reactor, ClientShard& shard) {
  bench.client_runtime()
      .Run(reactor, [&](runtime::Reactor&) -> absl::Status {
        for (std::unique_ptr<Conn>& c : shard.conns) c->Close();
        shard.conns.clear();
        return absl::OkStatus();
      })
      .IgnoreError();
}

}  // namespace

absl::StatusOr<ManyConnectionsResult> DrpcManyConnections(size_t reactors, size_t connections,
                                                          size_t message_bytes,
                                                          absl::Duration duration) {
  absl::StatusOr<std::unique_ptr<DrpcBench>> bench = DrpcBench::Start(
      {.placement = Placement::kTwoReactors, .mux = false, .reactor_count = reactors});
  if (!bench.ok()) return bench.status();
  std::vector<ClientShard> shards(reactors);
  absl::Status st;
  for (size_t i = 0; i < reactors && st.ok(); ++i) {
    st = Dial(**bench, i, connections * (i + 1) / reactors - connections * i / reactors, shards[i]);
  }
  ManyConnectionsResult total;
  if (st.ok()) {
    const auto start = SteadyClock::now();
    const auto deadline = start + absl::ToChronoNanoseconds(duration);
    const uint64_t allocations_before = AllocationCount();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < reactors; ++i) {
      threads.emplace_back([&, i] {
        shards[i].error = CallUntil(**bench, i, message_bytes, deadline, shards[i]);
      });
    }
    for (std::thread& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
    total.allocations = AllocationCount() - allocations_before;
    for (ClientShard& s : shards) {
      if (!s.error.ok() && st.ok()) st = s.error;
      total.latency_ns.Merge(s.result.latency_ns);
      total.calls += s.result.calls;
    }
    total.calls_per_second = total.calls / elapsed;
  }
  for (size_t i = 0; i < reactors; ++i) CloseAll(**bench, i, shards[i]);
  if (!st.ok()) return st;
  return total;
}

}  // namespace drpc::bench
