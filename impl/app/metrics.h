// Metrics hooks: a fixed set of counters and gauges (streams opened/closed/failed/refused, bytes in
// and out, receive-queue and writer blocking, connections, dials, pool hits), an interface to
// adapt them to any metrics system, a ready thread-safe registry, and a Prometheus text renderer.
//
//   MetricsRegistry metrics;                                   // or your own MetricsSink
//   ClientMetricsInterceptor(metrics);                         // streams (impl/app/interceptors.h)
//   auto t = std::make_unique<MeteredTransport>(env, std::move(raw), metrics, Side::kClient);
//   MetricsObserver observer(metrics, Side::kClient);          // Options::observer: queue blocking
//   std::string text = RenderPrometheus(metrics.Read());       // "drpc_streams_opened_total{...} 3"
//
// Who reports what:
//   | metric                       | reported by                                                |
//   |------------------------------|------------------------------------------------------------|
//   | streams_{opened,closed,failed,refused}, streams_active | the metrics interceptors (both sides) |
//   | bytes_{read,written}, writes_blocked, write_blocked_seconds, connections_{opened,closed,active} | MeteredTransport |
//   | recv_queue_blocked           | MetricsObserver (Options::observer)                        |
//   | dials, dial_failures         | ReconnectingConn and Pool (impl/app/reconnecting_conn.h, pool.h) |
//   | pool_hits, pool_misses, pool_identity_mismatches | Pool                                   |
// A stream "closed" ended well (OK, EOF, a cancel by its own caller); "failed" ended with any
// other error; "refused" is a failure the server refused for its stream limit (counted in both).
//
// Thread-safety: MetricsRegistry is lock-free (atomics) and may be shared by every reactor of a
// process. A MetricsSink of your own must be thread-safe if you share it across threads; calls
// come from fibers and must not block.
#ifndef DRPC_IMPL_APP_METRICS_H_
#define DRPC_IMPL_APP_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "impl/env.h"
#include "impl/observer.h"

namespace drpc {

enum class Side { kClient = 0, kServer = 1 };
inline constexpr size_t kSideCount = 2;

enum class Metric {
  kStreamsOpened = 0,
  kStreamsClosed,
  kStreamsFailed,
  kStreamsRefused,
  kStreamsActive,  // gauge
  kBytesRead,
  kBytesWritten,
  kWritesBlocked,
  kWriteBlockedNanos,
  kRecvQueueBlocked,
  kConnectionsOpened,
  kConnectionsClosed,
  kConnectionsActive,  // gauge
  kDials,
  kDialFailures,
  kPoolHits,
  kPoolMisses,
  kPoolIdentityMismatches,
  kCount,  // not a metric
};
inline constexpr size_t kMetricCount = static_cast<size_t>(Metric::kCount);

struct MetricInfo {
  absl::string_view name;  // Prometheus name without the prefix, e.g. "streams_opened_total"
  absl::string_view help;
  bool gauge;
  // Rendered value = raw value / divisor (nanoseconds to seconds); 1 for plain counts.
  uint64_t divisor;
};
const MetricInfo& InfoFor(Metric metric);

// A Transport write that takes at least this long counts as blocked (writes_blocked_total): the
// transport's send buffer was full (the peer or the network is slower than we write).
inline constexpr Duration kWriteBlockedThreshold = Duration::Micros(50);

// Where metrics go. Implement it to feed your metrics system (counters only ever get positive
// deltas; gauges get +1/-1).
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void Add(Side side, Metric metric, int64_t delta) = 0;
};

// A ready MetricsSink: one atomic per (side, metric). Thread-safe.
class MetricsRegistry final : public MetricsSink {
 public:
  using Values = std::array<std::array<int64_t, kMetricCount>, kSideCount>;
  void Add(Side side, Metric metric, int64_t delta) override;
  int64_t Get(Side side, Metric metric) const;
  // Every value (each read atomically; the set is not one instant).
  Values Read() const;

 private:
  std::array<std::array<std::atomic<int64_t>, kMetricCount>, kSideCount> values_{};
};

// The Prometheus text exposition format (version 0.0.4): for each metric a # HELP and # TYPE
// line, then one sample per side, e.g.
//   # HELP drpc_streams_opened_total Streams (calls) started.
//   # TYPE drpc_streams_opened_total counter
//   drpc_streams_opened_total{side="client"} 3
//   drpc_streams_opened_total{side="server"} 3
// `prefix` must be a valid metric-name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*).
std::string RenderPrometheus(const MetricsRegistry::Values& values,
                             absl::string_view prefix = "drpc");

// Counts recv_queue_blocked for the connections whose Options::observer it is.
class MetricsObserver final : public ConnectionObserver {
 public:
  MetricsObserver(MetricsSink& sink, Side side) : sink_(&sink), side_(side) {}
  void OnRecvQueueBlocked() override { sink_->Add(side_, Metric::kRecvQueueBlocked, 1); }

 private:
  MetricsSink* sink_;
  Side side_;
};

// A Transport that counts what passes through `inner` (bytes, writes that blocked and for how
// long by `env`'s clock) and its own life as a connection (opened when constructed, closed when
// destroyed). Same contract and threading as `inner`.
class MeteredTransport final : public Transport {
 public:
  MeteredTransport(Env& env, std::unique_ptr<Transport> inner, MetricsSink& sink, Side side);
  ~MeteredTransport() override;

  absl::StatusOr<size_t> Read(char* buf, size_t size) override;
  absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans) override;
  absl::Status Write(absl::string_view data) override;
  absl::Status WriteV(absl::Span<const absl::string_view> pieces) override;
  absl::StatusOr<size_t> TryWriteV(absl::Span<const absl::string_view> pieces) override;
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }
  Transport& inner() { return *inner_; }

 private:
  void CountWrite(Instant started, size_t bytes, const absl::Status& status);

  Env* env_;
  std::unique_ptr<Transport> inner_;
  MetricsSink* sink_;
  Side side_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_APP_METRICS_H_
