#include "impl/options.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace drpc {
namespace {

absl::Status OutOfRange(absl::string_view field, uint64_t value, uint64_t lo, uint64_t hi) {
  return absl::InvalidArgumentError(absl::StrCat("Options.", field, " = ", value,
                                                 " is outside [", lo, ", ", hi, "]"));
}

absl::Status CheckDuration(absl::string_view field, Duration value, Duration lo, Duration hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  constexpr int64_t kNanosPerMilli = 1000 * 1000;
  return absl::InvalidArgumentError(absl::StrCat("Options.", field, " = ", value.ToString(),
                                                 " is outside [", lo.nanos() / kNanosPerMilli,
                                                 "ms, ", hi.nanos() / kNanosPerMilli, "ms]"));
}

}  // namespace

absl::Status Options::ValidateBuffered() const {
  // A largest message in largest frames: one read, the frame in the parser, the packet being
  // assembled. (With mux flow control, messages of flow.message_max_bytes beyond this budget are
  // held only as far as the budget allows: the stream holding the most gives way.)
  const uint64_t frame_max = std::max<uint64_t>(packet_max_bytes, limits::kPacketDefaultMaxBytes);
  const uint64_t needed = frame_max + packet_max_bytes + tunables::kReadMaxBytes;
  if (connection_buffered_max_bytes < needed ||
      connection_buffered_max_bytes > tunables::kConnectionBufferedLimitMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Options.connection_buffered_max_bytes = ", connection_buffered_max_bytes,
        " is outside [", needed, ", ", tunables::kConnectionBufferedLimitMaxBytes,
        "] (a largest message of packet_max_bytes = ", packet_max_bytes,
        " arriving in largest frames must fit)"));
  }
  if (connection_buffered_reserved_bytes > connection_buffered_max_bytes) {
    return OutOfRange("connection_buffered_reserved_bytes", connection_buffered_reserved_bytes, 0,
                      connection_buffered_max_bytes);
  }
  if (server_buffered_max_bytes < 1 ||
      server_buffered_max_bytes > tunables::kServerBufferedLimitMaxBytes) {
    return OutOfRange("server_buffered_max_bytes", server_buffered_max_bytes, 1,
                      tunables::kServerBufferedLimitMaxBytes);
  }
  return absl::OkStatus();
}

absl::Status Options::CheckFlowLiveness() const {
  // The fork's validity rule (docs/protocol.md §17.1): a sender whose every byte was consumed must
  // hold the credit for one more frame, or both ends wait for each other.
  const uint64_t frame = std::min<uint64_t>(flow.message_max_bytes, split_bytes);
  if (frame > flow.stream_window_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Options.flow.stream_window_bytes = ", flow.stream_window_bytes,
        " is smaller than one frame (min(flow.message_max_bytes, split_bytes) = ", frame, ")"));
  }
  if (flow.grant_threshold_bytes > flow.stream_window_bytes - frame) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Options.flow.grant_threshold_bytes = ", flow.grant_threshold_bytes,
        " leaves less than one frame (", frame, " bytes) of the window (",
        flow.stream_window_bytes, "): a sender could wait for a grant that never comes"));
  }
  return absl::OkStatus();
}

Options Options::ForkDefaults() {
  Options o;
  o.mux = true;
  o.error_format = ErrorFormat::kGrpcStatus;
  o.flow.enabled = true;
  return o;
}

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
      {"flow.stream_window_bytes", flow.stream_window_bytes, limits::kStreamWindowLimitMinBytes,
       limits::kStreamWindowLimitMaxBytes},
      {"flow.grant_threshold_bytes", flow.grant_threshold_bytes, 1, flow.stream_window_bytes},
      {"flow.message_max_bytes", flow.message_max_bytes, limits::kPacketLimitMinBytes,
       limits::kPacketLimitMaxBytes},
      {"concurrent_streams_max_count", concurrent_streams_max_count, 1,
       limits::kStreamsLimitMaxCount},
      {"pending_invokes_max_count", pending_invokes_max_count, 1, limits::kStreamsLimitMaxCount},
      {"connections_max_count", connections_max_count, 1, tunables::kConnectionsLimitMaxCount},
      {"server_calls_max_count", server_calls_max_count, 1, tunables::kServerCallsLimitMaxCount},
  };
  for (const Range& r : ranges) {
    if (r.value < r.lo || r.value > r.hi) return OutOfRange(r.field, r.value, r.lo, r.hi);
  }
  if (absl::Status s = CheckDuration("recv_stall_timeout", recv_stall_timeout,
                                     tunables::kRecvStallTimeoutMin,
                                     tunables::kRecvStallTimeoutMax);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDuration("credit_stall_timeout", credit_stall_timeout,
                                     tunables::kCreditStallTimeoutMin,
                                     tunables::kCreditStallTimeoutMax);
      !s.ok()) {
    return s;
  }
  if (!mux && flow.enabled) {
    return absl::InvalidArgumentError("Options.flow.enabled needs mux mode (Options.mux)");
  }
  if (!mux && compression != Compression::kNone) {
    return absl::InvalidArgumentError("Options.compression needs mux mode (Options.mux)");
  }
  if (flow.enabled) {
    if (absl::Status s = CheckFlowLiveness(); !s.ok()) return s;
  }
  const struct {
    absl::string_view field;
    Duration value;
  } timeouts[] = {{"first_frame_timeout", first_frame_timeout},
                  {"frame_timeout", frame_timeout},
                  {"inactivity_timeout", inactivity_timeout},
                  {"half_close_grace", half_close_grace}};
  for (const auto& t : timeouts) {
    if (t.value < tunables::kConnectionTimeoutMin) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Options.", t.field, " = ", t.value.ToString(), " is below ",
          tunables::kConnectionTimeoutMin.ToString(), " (Infinite = no limit)"));
    }
  }
  return ValidateBuffered();
}

}  // namespace drpc
