#include "impl/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace drpc {
namespace {

constexpr absl::string_view kClassPayload = "drpc.error_class";
constexpr absl::string_view kCodePayload = "drpc.remote_code";

absl::Status WithClass(absl::Status s, absl::string_view cls) {
  s.SetPayload(kClassPayload, absl::Cord(cls));
  return s;
}

bool HasClass(const absl::Status& s, absl::string_view cls) {
  auto p = s.GetPayload(kClassPayload);
  return p.has_value() && *p == cls;
}

}  // namespace

absl::Status EofError() {
  return OnceStatus([] { return WithClass(absl::OutOfRangeError("EOF"), "eof"); });
}
bool IsEof(const absl::Status& status) { return HasClass(status, "eof"); }

absl::Status CanceledError() {
  return OnceStatus([] { return absl::CancelledError("context canceled"); });
}
absl::Status DeadlineError() {
  return OnceStatus([] { return absl::DeadlineExceededError("context deadline exceeded"); });
}

absl::Status ClosedError(absl::string_view detail, const absl::Status& cause) {
  std::string message = absl::StrCat("closed: ", detail);
  if (!cause.ok()) absl::StrAppend(&message, ": ", cause.message());
  return WithClass(absl::UnavailableError(message), "closed");
}
bool IsClosed(const absl::Status& status) { return HasClass(status, "closed"); }

absl::Status ProtocolError(absl::string_view detail) {
  return WithClass(absl::InternalError(absl::StrCat("protocol error: ", detail)), "protocol");
}
bool IsProtocolError(const absl::Status& status) { return HasClass(status, "protocol"); }

absl::Status RefusedError(uint64_t streams_max_count) {
  return absl::ResourceExhaustedError(
      absl::StrCat(kRefusedPrefix, ": at most ", streams_max_count, " concurrent streams"));
}

absl::Status ServerBusyError(absl::string_view detail) {
  return absl::ResourceExhaustedError(absl::StrCat("server busy: ", detail));
}

absl::Status RemoteErrorStatus(uint64_t code, absl::string_view text) {
  absl::StatusCode absl_code = absl::StatusCode::kUnknown;
  if (code >= 1 && code <= 16) absl_code = static_cast<absl::StatusCode>(code);
  if (code == 0 && absl::StartsWith(text, kRefusedPrefix)) {
    absl_code = absl::StatusCode::kResourceExhausted;
  }
  absl::Status s(absl_code, text);
  s.SetPayload(kCodePayload, absl::Cord(absl::StrCat(code)));
  return WithClass(std::move(s), "remote");
}

std::optional<uint64_t> RemoteErrorCode(const absl::Status& status) {
  auto p = status.GetPayload(kCodePayload);
  uint64_t code = 0;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &code)) return std::nullopt;
  return code;
}

absl::Status WithRemoteErrorCode(absl::Status status, uint64_t code) {
  status.SetPayload(kCodePayload, absl::Cord(absl::StrCat(code)));
  return status;
}

std::pair<uint64_t, std::string> ToWireError(const absl::Status& status) {
  uint64_t code = static_cast<uint64_t>(status.code());
  if (std::optional<uint64_t> explicit_code = RemoteErrorCode(status)) code = *explicit_code;
  return {code, std::string(status.message())};
}

}  // namespace drpc
