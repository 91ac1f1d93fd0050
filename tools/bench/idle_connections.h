// The idle-connection rows of tools/bench (issue 13 item 3, target <= 16 KiB RSS per idle
// connection): a production TcpServer serving the echo service, N raw wire clients (wire_client.h:
// bare sockets) each making one unary call and then staying connected without a word. The clients
// run in a child process, so the RSS and heap measured are the server process's alone. Measured
// after the server's idle trim (tunables::kMemoryReturnIdleDelay) had time to run.
//
//   absl::StatusOr<IdleConnectionsResult> r =
//       MeasureIdleConnections({.mux = true, .connections = 1000, .payload_bytes = 64});
#ifndef DRPC_TOOLS_BENCH_IDLE_CONNECTIONS_H_
#define DRPC_TOOLS_BENCH_IDLE_CONNECTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace drpc::bench {

struct IdleConnectionsConfig {
  bool mux = false;
  size_t connections = 1000;
  // Each connection's one call echoes this many bytes (a 1 MiB call leaves a burst to give back).
  size_t payload_bytes = 64;
};

struct IdleConnectionsResult {
  double rss_bytes_per_connection = 0;   // the server process's RSS growth / connections
  double heap_bytes_per_connection = 0;  // malloc'd bytes growth / connections
  double stack_rss_bytes_per_connection = 0;  // of the RSS: fiber stack pages
  double trimmed_rss_bytes_per_connection = 0;  // the RSS once the allocator's cache is trimmed
  uint64_t memory_trims = 0;             // malloc_trim calls the server made meanwhile
};

absl::StatusOr<IdleConnectionsResult> MeasureIdleConnections(const IdleConnectionsConfig& config);

// The target for one idle connection.
inline constexpr double kIdleConnectionTargetBytes = 16 * 1024;

// Prints tools/bench's table rows for both modes, after a 64 B call and after a 1 MiB call:
// RSS per connection (PASS/MISS against the target), heap per connection, trims made.
absl::Status PrintIdleConnectionRows(size_t connections);

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_IDLE_CONNECTIONS_H_
