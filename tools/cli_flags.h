// Minimal command-line parsing shared by tools/echo_server and tools/call: flags are
// `--name=value` or `--name` and may repeat (--meta=a=1 --meta=b=2), which absl flags cannot do.
//
//   for (int i = 1; i < argc; ++i) {
//     std::optional<CliFlag> f = ParseCliFlag(argv[i]);
//     if (!f) { positional.push_back(argv[i]); continue; }
//     if (f->name == "timeout") timeout = ParseCliDuration(f->value.value_or(""));
//   }
#ifndef DRPC_TOOLS_CLI_FLAGS_H_
#define DRPC_TOOLS_CLI_FLAGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/time.h"

namespace drpc::cli {

struct CliFlag {
  std::string name;                  // without the dashes
  std::optional<std::string> value;  // after the first '=', if any
};

// "--name=value" / "--name" (also with one dash); nullopt for anything else (a positional
// argument, "-" or "--").
std::optional<CliFlag> ParseCliFlag(absl::string_view arg);

// "2s", "500ms", "1m30s" (Go-style, as absl::ParseDuration); kInvalidArgument otherwise or if
// negative.
absl::StatusOr<Duration> ParseCliDuration(absl::string_view text);

}  // namespace drpc::cli

#endif  // DRPC_TOOLS_CLI_FLAGS_H_
