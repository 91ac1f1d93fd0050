#include "impl/options.h"

#include "absl/strings/str_cat.h"

namespace drpc {
namespace {

absl::Status OutOfRange(absl::string_view field, uint64_t value, uint64_t lo, uint64_t hi) {
  return absl::InvalidArgumentError(absl::StrCat("Options.", field, " = ", value,
                                                 " is outside [", lo, ", ", hi, "]"));
}

}  // namespace

absl::Status Options::Validate() const {
  struct Range {
    absl::string_view field;
    uint64_t value, lo, hi;
  };
  const Range ranges[] = {
      {"split_bytes", split_bytes, limits::kSplitMinBytes, limits::kSplitMaxBytes},
      {"packet_max_bytes", packet_max_bytes, limits::kPacketLimitMinBytes,
       limits::kPacketLimitMaxBytes},
      {"write_buffer_bytes", write_buffer_bytes, 1, limits::kPacketLimitMaxBytes},
      {"write_batch_max_bytes", write_batch_max_bytes, 1, limits::kPacketLimitMaxBytes},
      {"recv_queue_max_count", recv_queue_max_count, 1, tunables::kRecvQueueLimitMaxCount},
      {"recv_queue_max_bytes", recv_queue_max_bytes, 1, limits::kPacketLimitMaxBytes},
      {"window_bytes", window_bytes, limits::kWindowMinBytes, limits::kWindowMaxBytes},
      {"window_initial_bytes", window_initial_bytes, limits::kWindowMinBytes,
       limits::kWindowMaxBytes},
      {"concurrent_streams_max_count", concurrent_streams_max_count, 1,
       limits::kStreamsLimitMaxCount},
      {"pending_invokes_max_count", pending_invokes_max_count, 1, limits::kStreamsLimitMaxCount},
      {"connections_max_count", connections_max_count, 1, tunables::kConnectionsLimitMaxCount},
      {"server_calls_max_count", server_calls_max_count, 1, tunables::kServerCallsLimitMaxCount},
  };
  for (const Range& r : ranges) {
    if (r.value < r.lo || r.value > r.hi) return OutOfRange(r.field, r.value, r.lo, r.hi);
  }
  if (recv_stall_timeout < tunables::kRecvStallTimeoutMin ||
      recv_stall_timeout > tunables::kRecvStallTimeoutMax) {
    constexpr int64_t kNanosPerMilli = 1000 * 1000;
    return absl::InvalidArgumentError(absl::StrCat(
        "Options.recv_stall_timeout = ", recv_stall_timeout.ToString(), " is outside [",
        tunables::kRecvStallTimeoutMin.nanos() / kNanosPerMilli, "ms, ",
        tunables::kRecvStallTimeoutMax.nanos() / kNanosPerMilli, "ms]"));
  }
  if (inactivity_timeout <= Duration::Zero()) {
    return absl::InvalidArgumentError("Options.inactivity_timeout must be positive (Infinite = none)");
  }
  return absl::OkStatus();
}

}  // namespace drpc
