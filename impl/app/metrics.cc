#include "impl/app/metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

constexpr MetricInfo kInfos[] = {
    {"streams_opened_total", "Streams (calls) started.", false, 1},
    {"streams_closed_total", "Streams that ended well (OK, EOF or cancelled by their caller).",
     false, 1},
    {"streams_failed_total", "Streams that ended with an error.", false, 1},
    {"streams_refused_total", "Streams the server refused over its concurrent-stream limit.",
     false, 1},
    {"streams_active", "Streams started and not yet ended.", true, 1},
    {"bytes_read_total", "Bytes read from transports.", false, 1},
    {"bytes_written_total", "Bytes written to transports.", false, 1},
    {"writes_blocked_total", "Transport writes that waited for send buffer space.", false, 1},
    {"write_blocked_seconds_total", "Time transport writes spent waiting.", false, 1'000'000'000},
    {"recv_queue_blocked_total",
     "Times a connection's reader waited for the application to drain a full receive queue.",
     false, 1},
    {"connections_opened_total", "Connections opened.", false, 1},
    {"connections_closed_total", "Connections closed.", false, 1},
    {"connections_active", "Connections open now.", true, 1},
    {"dials_total", "Dial attempts.", false, 1},
    {"dial_failures_total", "Dial attempts that failed.", false, 1},
    {"pool_hits_total", "Pool requests served by an idle connection.", false, 1},
    {"pool_misses_total", "Pool requests that dialed.", false, 1},
    {"pool_identity_mismatches_total",
     "New connections refused because another server answered behind a pool key.", false, 1},
};
static_assert(sizeof(kInfos) / sizeof(kInfos[0]) == kMetricCount, "one MetricInfo per Metric");

constexpr absl::string_view kSideNames[kSideCount] = {"client", "server"};

}  // namespace

const MetricInfo& InfoFor(Metric metric) {
  const size_t i = static_cast<size_t>(metric);
  DRPC_CHECK_LT(i, kMetricCount);
  return kInfos[i];
}

void MetricsRegistry::Add(Side side, Metric metric, int64_t delta) {
  values_[static_cast<size_t>(side)][static_cast<size_t>(metric)].fetch_add(
      delta, std::memory_order_relaxed);
}

int64_t MetricsRegistry::Get(Side side, Metric metric) const {
  return values_[static_cast<size_t>(side)][static_cast<size_t>(metric)].load(
      std::memory_order_relaxed);
}

MetricsRegistry::Values MetricsRegistry::Read() const {
  Values out{};
  for (size_t s = 0; s < kSideCount; ++s) {
    for (size_t m = 0; m < kMetricCount; ++m) {
      out[s][m] = values_[s][m].load(std::memory_order_relaxed);
    }
  }
  return out;
}

std::string RenderPrometheus(const MetricsRegistry::Values& values, absl::string_view prefix) {
  std::string out;
  for (size_t m = 0; m < kMetricCount; ++m) {
    const MetricInfo& info = kInfos[m];
    const std::string name = absl::StrCat(prefix, "_", info.name);
    absl::StrAppend(&out, "# HELP ", name, " ", info.help, "\n# TYPE ", name,
                    info.gauge ? " gauge\n" : " counter\n");
    for (size_t s = 0; s < kSideCount; ++s) {
      const int64_t v = values[s][m];
      absl::StrAppend(&out, name, "{side=\"", kSideNames[s], "\"} ");
      if (info.divisor == 1) {
        absl::StrAppend(&out, v, "\n");
      } else {
        absl::StrAppend(&out, absl::StrFormat("%.9f", static_cast<double>(v) / info.divisor), "\n");
      }
    }
  }
  return out;
}

MeteredTransport::MeteredTransport(Env& env, std::unique_ptr<Transport> inner, MetricsSink& sink,
                                   Side side)
    : env_(&env), inner_(std::move(inner)), sink_(&sink), side_(side) {
  DRPC_CHECK(inner_ != nullptr);
  sink_->Add(side_, Metric::kConnectionsOpened, 1);
  sink_->Add(side_, Metric::kConnectionsActive, 1);
}

MeteredTransport::~MeteredTransport() {
  sink_->Add(side_, Metric::kConnectionsClosed, 1);
  sink_->Add(side_, Metric::kConnectionsActive, -1);
}

absl::StatusOr<size_t> MeteredTransport::ReadV(absl::Span<const absl::Span<char>> spans) {
  absl::StatusOr<size_t> n = inner_->ReadV(spans);
  if (n.ok()) sink_->Add(side_, Metric::kBytesRead, static_cast<int64_t>(*n));
  return n;
}

absl::StatusOr<size_t> MeteredTransport::Read(char* buf, size_t size) {
  absl::StatusOr<size_t> n = inner_->Read(buf, size);
  if (n.ok()) sink_->Add(side_, Metric::kBytesRead, static_cast<int64_t>(*n));
  return n;
}

void MeteredTransport::CountWrite(Instant started, size_t bytes, const absl::Status& status) {
  if (status.ok()) sink_->Add(side_, Metric::kBytesWritten, static_cast<int64_t>(bytes));
  const Duration took = env_->clock().Now() - started;
  if (took >= kWriteBlockedThreshold) {
    sink_->Add(side_, Metric::kWritesBlocked, 1);
    sink_->Add(side_, Metric::kWriteBlockedNanos, took.nanos());
  }
}

absl::Status MeteredTransport::Write(absl::string_view data) {
  const Instant started = env_->clock().Now();
  absl::Status s = inner_->Write(data);
  CountWrite(started, data.size(), s);
  return s;
}

absl::StatusOr<size_t> MeteredTransport::TryWriteV(absl::Span<const absl::string_view> pieces) {
  const Instant started = env_->clock().Now();
  absl::StatusOr<size_t> taken = inner_->TryWriteV(pieces);
  CountWrite(started, taken.ok() ? *taken : 0, taken.status());
  return taken;
}

absl::Status MeteredTransport::WriteV(absl::Span<const absl::string_view> pieces) {
  size_t bytes = 0;
  for (absl::string_view p : pieces) bytes += p.size();
  const Instant started = env_->clock().Now();
  absl::Status s = inner_->WriteV(pieces);
  CountWrite(started, bytes, s);
  return s;
}

}  // namespace drpc
