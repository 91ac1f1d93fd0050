// The mux-mode flags shared by tools/echo_server and tools/call — how to speak the wire of the
// cockroachdb/drpc fork (README "Talking to cockroachdb/drpc") — parsed in a block of their own:
//
//   echo_server --fork                       # mux, flow control 2 MiB / 512 KiB / 64 MiB, fork errors
//   call --fork --compression=snappy ADDR RPC
//   call --mux --flow_control=on --stream_window=1MiB --grant_threshold=256KiB ADDR RPC
//
//   MuxFlags mux;
//   if (mux.Apply(flag)) continue;            // consumed (or recorded an error)
//   absl::Status s = mux.ApplyTo(options);    // after every flag: sets the Options, validates them
//
// Sizes take a plain byte count or a KiB/MiB suffix. --fork, like --mux, selects mux mode; the
// other flags need it (a usage error otherwise).
#ifndef DRPC_TOOLS_MUX_FLAGS_H_
#define DRPC_TOOLS_MUX_FLAGS_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "impl/options.h"
#include "impl/time.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "tools/cli_flags.h"

namespace drpc::cli {

class MuxFlags {
 public:
  // `client`: whether --compression (a client's request) is accepted.
  explicit MuxFlags(bool client) : client_(client) {}

  // True if `flag` is one of the mux flags (then it is recorded; a malformed value is reported by
  // error()).
  bool Apply(const CliFlag& flag);
  const absl::Status& error() const { return error_; }

  // Applies the recorded flags over `options` (whose `mux` the caller set from --mux) and, if any
  // mux flag was given, validates the result: kInvalidArgument naming the flag or Options field at
  // fault.
  absl::Status ApplyTo(Options& options) const;

  static constexpr char kServerUsage[] =
      "  --fork             mux mode as a cockroachdb/drpc peer expects it: flow control on\n"
      "                     (2 MiB window, 512 KiB grant threshold, 64 MiB messages) and the fork's\n"
      "                     Error bodies (0x01 + google.rpc.Status)\n"
      "  --flow_control=on|off   the fork's per-stream flow control (mux; both ends alike)\n"
      "  --stream_window=N  --grant_threshold=N  --max_message=N   its sizes (bytes, KiB, MiB)\n"
      "  --credit_stall_timeout=D  how long a sender waits for credit before its stream fails\n"
      "  --error_format=upstream|grpc-status   Error bodies (default: by mode; both ends alike)\n"
      "  --max_streams=N    concurrent streams per mux connection; more are refused\n";
  static constexpr char kClientUsage[] =
      "  --fork               mux mode as a cockroachdb/drpc server expects it (flow control on\n"
      "                       with the fork's sizes, the fork's Error bodies)\n"
      "  --flow_control=on|off  --stream_window=N  --grant_threshold=N  --max_message=N\n"
      "  --credit_stall_timeout=D  the fork's flow control (mux; configure both ends alike)\n"
      "  --error_format=upstream|grpc-status   Error bodies (default: by mode; both ends alike)\n"
      "  --compression=snappy|minlz-fastest|none   ask the server to compress the stream (mux)\n";

 private:
  bool client_;
  bool fork_ = false;
  std::optional<bool> flow_;
  std::optional<uint64_t> window_, threshold_, message_max_, max_streams_;
  std::optional<Duration> stall_;
  std::optional<ErrorFormat> error_format_;
  std::optional<Compression> compression_;
  absl::Status error_;
};

}  // namespace drpc::cli

#endif  // DRPC_TOOLS_MUX_FLAGS_H_
