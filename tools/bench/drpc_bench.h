// The drpc side of tools/bench: a server and a client on the production runtime (impl/runtime)
// over loopback TCP, and the measurements the benchmark table reports.
//
//   absl::StatusOr<std::unique_ptr<DrpcBench>> b =
//       DrpcBench::Start({.placement = Placement::kOneReactor, .mux = false});
//   absl::StatusOr<LatencyResult> r = UnaryLatency(**b, 64, absl::Seconds(1));
//
// Placement (compare with the raw TCP shape of the same name, raw_tcp.h):
//   kOneReactor   one Runtime with one reactor serves the connection and runs the client: both
//                 ends are fibers of one thread.
//   kTwoReactors  the server and the client each have a one-reactor Runtime: two threads.
#ifndef DRPC_TOOLS_BENCH_DRPC_BENCH_H_
#define DRPC_TOOLS_BENCH_DRPC_BENCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "impl/conn.h"
#include "impl/router.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp_server.h"
#include "tools/bench/histogram.h"

namespace drpc::bench {

enum class Placement { kOneReactor, kTwoReactors };

// RPCs of the service the benchmark serves (impl/testing/echo_service.h, as tools/echo_server).
inline constexpr char kUnaryRpc[] = "/interop.Echo/Unary";  // echo
inline constexpr char kSinkRpc[] = "/interop.Echo/ClientStream";  // replies the byte count
inline constexpr char kHoldRpc[] = "/interop.Echo/Bidi";  // echo until the client's EOF
inline constexpr char kSourceRpc[] = "/interop.Echo/ServerStream";  // request N: N messages

struct DrpcBenchOptions {
  Placement placement = Placement::kTwoReactors;
  bool mux = false;
  // Mux: concurrent streams allowed on the connection (both ends).
  size_t streams_max_count = 1024;
  // Reactors of the server's Runtime, and of the client's with kTwoReactors.
  size_t reactor_count = 1;
  // Options::split_bytes of both ends (0: the default, 64 KiB as Go's).
  size_t split_bytes = 0;
};

class DrpcBench {
 public:
  static absl::StatusOr<std::unique_ptr<DrpcBench>> Start(const DrpcBenchOptions& options);
  ~DrpcBench();  // shuts the server down and stops the runtimes
  DrpcBench(const DrpcBench&) = delete;
  DrpcBench& operator=(const DrpcBench&) = delete;

  // The client's connection options (mode and stream limit match the server's).
  const Options& client_options() const { return client_options_; }
  // Dials the server from a fiber of `r` (the client reactor) and starts a Conn.
  absl::StatusOr<std::unique_ptr<Conn>> Connect(runtime::Reactor& r) const;
  // The client reactor's Runtime (Run(0, fn) runs fn on the client reactor).
  runtime::Runtime& client_runtime() { return client_rt_ ? *client_rt_ : *server_rt_; }
  // System calls made so far by the reactors of the server and the client (their epoll_waits and
  // their transports' socket calls, Reactor::syscall_count). Thread-safe.
  uint64_t SyscallCount() const;

 private:
  explicit DrpcBench(const DrpcBenchOptions& options);

  DrpcBenchOptions options_;
  Options client_options_;
  Router router_;
  std::unique_ptr<runtime::Runtime> server_rt_;
  std::unique_ptr<runtime::Runtime> client_rt_;  // null with kOneReactor
  std::unique_ptr<runtime::TcpServer> server_;
};

struct LatencyResult {
  Histogram latency_ns;  // per call
  double calls_per_second = 0;
  uint64_t calls = 0;
  // operator new calls in the process (client + server) while the calls ran (alloc_counter.h).
  uint64_t allocations = 0;
  // System calls of the reactors (DrpcBench::SyscallCount) while the calls ran.
  uint64_t syscalls = 0;
};

// Unary calls of `message_bytes` (echoed), one in flight, for `duration` after a short warm-up.
absl::StatusOr<LatencyResult> UnaryLatency(DrpcBench& bench, size_t message_bytes,
                                           absl::Duration duration);

// `concurrency` fibers calling unary RPCs on ONE connection (mux mode), for `duration`.
absl::StatusOr<LatencyResult> ConcurrentUnary(DrpcBench& bench, size_t concurrency,
                                              size_t message_bytes, absl::Duration duration);

struct StreamResult {
  double messages_per_second = 0;
  double bytes_per_second = 0;
  uint64_t messages = 0;
  uint64_t allocations = 0;  // operator new calls in the process while they streamed
};

// One client stream sending `message_bytes` messages for `duration`; timed until the server's
// reply (its byte count, checked) arrives, so every message was received.
absl::StatusOr<StreamResult> ClientStreaming(DrpcBench& bench, size_t message_bytes,
                                             absl::Duration duration);

// Server streams ("msg-0", "msg-1", ...: 5-10 byte messages) received by the client until
// `duration` passes: the server's send path, to compare with ClientStreaming's receive path.
absl::StatusOr<StreamResult> ServerStreaming(DrpcBench& bench, absl::Duration duration);

struct IdleStreamsResult {
  size_t streams = 0;
  double open_seconds = 0;           // to open them all and see each answered once
  double rss_bytes_per_stream = 0;   // resident set growth / streams (client + server)
  double heap_bytes_per_stream = 0;  // malloc'd bytes growth / streams (client + server)
  long threads_before = 0;
  long threads_with_streams = 0;
  LatencyResult probe;               // unary calls on the same connection while they are open
};

// Opens `streams` bidi streams on one mux connection, has each echo one byte (so the server is
// inside every handler), measures memory and threads, runs unary probe calls for
// `probe_duration` on the same connection, then closes every stream.
absl::StatusOr<IdleStreamsResult> IdleStreams(DrpcBench& bench, size_t streams,
                                              absl::Duration probe_duration);

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_DRPC_BENCH_H_
