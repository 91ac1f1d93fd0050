#include "tools/cli_flags.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace drpc::cli {

std::optional<CliFlag> ParseCliFlag(absl::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::nullopt;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  if (arg.empty()) return std::nullopt;
  CliFlag flag;
  const size_t eq = arg.find('=');
  flag.name = std::string(arg.substr(0, eq));
  if (eq != absl::string_view::npos) flag.value = std::string(arg.substr(eq + 1));
  return flag;
}

absl::StatusOr<Duration> ParseCliDuration(absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration \"", text, "\" (want e.g. 2s, 500ms, 1m30s)"));
  }
  if (d == absl::InfiniteDuration()) return Duration::Infinite();
  return Duration::Nanos(absl::ToInt64Nanoseconds(d));
}

}  // namespace drpc::cli
