#include "tools/mux_flags.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/limits.h"

namespace drpc::cli {
namespace {

// "1048576", "1024KiB", "1MiB".
std::optional<uint64_t> ParseBytes(absl::string_view text) {
  uint64_t unit = 1;
  if (absl::ConsumeSuffix(&text, "MiB")) {
    unit = limits::kMiB;
  } else if (absl::ConsumeSuffix(&text, "KiB")) {
    unit = limits::kKiB;
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n > UINT64_MAX / unit) return std::nullopt;
  return n * unit;
}

}  // namespace

bool MuxFlags::Apply(const CliFlag& flag) {
  const std::string v = flag.value.value_or("");
  auto bad = [&](absl::string_view why) {
    if (error_.ok()) error_ = absl::InvalidArgumentError(absl::StrCat("--", flag.name, ": ", why));
    return true;
  };
  auto bytes = [&](std::optional<uint64_t>& out) {
    out = ParseBytes(v);
    return out.has_value() ? true : bad("want a byte count (N, NKiB or NMiB)");
  };
  if (flag.name == "fork") {
    if (flag.value) return bad("takes no value");
    fork_ = true;
    return true;
  }
  if (flag.name == "flow_control") {
    if (v != "on" && v != "off") return bad("want on or off");
    flow_ = v == "on";
    return true;
  }
  if (flag.name == "stream_window") return bytes(window_);
  if (flag.name == "grant_threshold") return bytes(threshold_);
  if (flag.name == "max_message") return bytes(message_max_);
  if (flag.name == "max_streams" && !client_) return bytes(max_streams_);
  if (flag.name == "credit_stall_timeout") {
    absl::StatusOr<Duration> d = ParseCliDuration(v);
    if (!d.ok()) return bad(d.status().message());
    stall_ = *d;
    return true;
  }
  if (flag.name == "error_format") {
    error_format_ = ErrorFormatFromName(v);
    return error_format_.has_value() ? true : bad("want upstream or grpc-status");
  }
  if (flag.name == "compression" && client_) {
    if (v == "none") {
      compression_ = Compression::kNone;
      return true;
    }
    compression_ = CompressionFromName(v);
    return compression_.has_value() ? true : bad("want snappy, minlz-fastest or none");
  }
  return false;
}

absl::Status MuxFlags::ApplyTo(Options& options) const {
  if (!error_.ok()) return error_;
  if (fork_) {
    const Options fork = Options::ForkDefaults();
    options.mux = true;
    options.flow = fork.flow;
    options.error_format = fork.error_format;
  }
  const bool needs_mux = flow_ || window_ || threshold_ || message_max_ || stall_ ||
                         compression_ || max_streams_;
  if (needs_mux && !options.mux) {
    return absl::InvalidArgumentError(
        "the flow-control, compression and stream flags need mux mode (--mux or --fork)");
  }
  if (flow_) options.flow.enabled = *flow_;
  if (window_) options.flow.stream_window_bytes = *window_;
  if (threshold_) options.flow.grant_threshold_bytes = *threshold_;
  if (message_max_) options.flow.message_max_bytes = *message_max_;
  if (stall_) options.credit_stall_timeout = *stall_;
  if (error_format_) options.error_format = *error_format_;
  if (compression_) options.compression = *compression_;
  if (max_streams_) options.concurrent_streams_max_count = static_cast<size_t>(*max_streams_);
  // Without a mux flag nothing changed here: the options are the caller's to validate (echo_server
  // reports its own invalid settings as a start-up failure, not as a usage error).
  const bool any = fork_ || needs_mux || error_format_.has_value();
  return any ? options.Validate() : absl::OkStatus();
}

}  // namespace drpc::cli
