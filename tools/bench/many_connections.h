// The many-connections row of tools/bench: `connections` loopback TCP connections, each with one
// 64 B request in flight at all times (closed loop), spread over `threads` server threads and
// `threads` client threads — as drpc (reactors of two Runtimes, a TcpServer and one Conn per
// connection) and as the raw baseline (epoll echo threads with no framing).
//
//   absl::StatusOr<ManyConnectionsResult> raw = RawEpollEcho(2, 256, 64, absl::Seconds(1));
//   absl::StatusOr<ManyConnectionsResult> d = DrpcManyConnections(2, 256, 64, absl::Seconds(1));
#ifndef DRPC_TOOLS_BENCH_MANY_CONNECTIONS_H_
#define DRPC_TOOLS_BENCH_MANY_CONNECTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/histogram.h"

namespace drpc::bench {

struct ManyConnectionsResult {
  Histogram latency_ns;  // per call (round trip), all connections
  double calls_per_second = 0;
  uint64_t calls = 0;
  uint64_t allocations = 0;  // operator new calls while the calls ran (alloc_counter.h)
};

// Raw baseline: `threads` server threads echo on their share of the connections (level-triggered
// epoll, non-blocking sockets); `threads` client threads each keep one request in flight on each
// of their connections.
absl::StatusOr<ManyConnectionsResult> RawEpollEcho(size_t threads, size_t connections,
                                                   size_t message_bytes, absl::Duration duration);

// drpc upstream mode: a TcpServer on a Runtime of `reactors` reactors serving interop.Echo, and
// a client Runtime of `reactors` reactors, each dialling its share of the connections and running
// one caller fiber per connection.
absl::StatusOr<ManyConnectionsResult> DrpcManyConnections(size_t reactors, size_t connections,
                                                          size_t message_bytes,
                                                          absl::Duration duration);

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_MANY_CONNECTIONS_H_
