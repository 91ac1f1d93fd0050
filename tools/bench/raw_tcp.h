// Raw TCP baselines for tools/bench, measured in the same process and window as drpc: loopback
// socket pairs with TCP_NODELAY and plain system calls, no framing, no fibers.
//
//   RawTcpShape shape = RawTcpShape::kOneThread;
//   absl::StatusOr<PingPongResult> p = RawPingPong(shape, 64, absl::Seconds(1));
//   absl::StatusOr<double> bytes_per_second = RawBulk(shape, 1 << 20, absl::Seconds(1));
//
// Shapes, matching how drpc runs in the same table:
//   kOneThread   client and server side driven by one thread (drpc: one reactor hosts both): the
//                client writes, the server reads (data written on loopback is normally there at
//                once; otherwise poll), writes back, the client reads. Four system calls per
//                round trip: the floor for any protocol on this socket pair.
//   kTwoThreads  a client thread and a server thread with blocking sockets (drpc: client and
//                server on different reactors); a round trip wakes the other thread twice.
#ifndef DRPC_TOOLS_BENCH_RAW_TCP_H_
#define DRPC_TOOLS_BENCH_RAW_TCP_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/histogram.h"

namespace drpc::bench {

enum class RawTcpShape { kOneThread, kTwoThreads };

struct PingPongResult {
  Histogram latency_ns;  // one sample per round trip
  double round_trips_per_second = 0;
};

// `message_bytes` out, the same back, one message in flight, for `duration`.
absl::StatusOr<PingPongResult> RawPingPong(RawTcpShape shape, size_t message_bytes,
                                           absl::Duration duration);

// One direction: the client writes `chunk_bytes` per write(2) for `duration`, the server reads
// into a 1 MiB buffer. Returns received bytes per second.
absl::StatusOr<double> RawBulk(RawTcpShape shape, size_t chunk_bytes, absl::Duration duration);

// Connects `count` loopback TCP pairs, TCP_NODELAY on both ends (and O_NONBLOCK if
// `non_blocking`), appending {client fd, server fd} to `pairs`, which own them from then on. On
// an error, the pairs made so far are appended too, and the status says which call failed.
absl::Status ConnectLoopbackPairs(size_t count, bool non_blocking,
                                  std::vector<std::pair<int, int>>& pairs);

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_RAW_TCP_H_
