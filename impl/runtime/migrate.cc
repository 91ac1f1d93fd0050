#include "impl/runtime/migrate.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/limits.h"
#include "proto/migrate.h"

namespace drpc::runtime {

absl::Status ReadMigrateHeader(Env& env, Transport& transport, Duration timeout) {
  char got[limits::kMigrateHeaderBytes];
  size_t n = 0;
  bool timed_out = false;
  const TimerId timer = env.clock().ScheduleAt(env.clock().Now() + timeout, [&] {
    timed_out = true;
    transport.Close();
  });
  absl::Status error;
  while (n < sizeof(got)) {
    absl::StatusOr<size_t> r = transport.Read(got + n, sizeof(got) - n);
    if (!r.ok()) {
      error = r.status();
      break;
    }
    n += *r;
  }
  env.clock().Cancel(timer);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("drpcmigrate header: ", n, " of 8 bytes within ", timeout.ToString()));
  }
  if (!error.ok()) return error;
  if (absl::string_view(got, n) != kMigrateHeader) {
    return absl::InvalidArgumentError(absl::StrCat(
        "drpcmigrate header: want \"DRPC!!!1\", got \"", absl::CHexEscape(absl::string_view(got, n)),
        "\""));
  }
  return absl::OkStatus();
}

}  // namespace drpc::runtime
