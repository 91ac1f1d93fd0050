#include "impl/env.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "impl/trim_throttle.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

constexpr absl::string_view kTransportKindPayload = "drpc.transport_error_kind";

absl::StatusCode CodeFor(TransportErrorKind kind) {
  switch (kind) {
    case TransportErrorKind::kEof:
      return absl::StatusCode::kOutOfRange;
    case TransportErrorKind::kClosedLocally:
      return absl::StatusCode::kCancelled;
    case TransportErrorKind::kWriteAfterClose:
      return absl::StatusCode::kFailedPrecondition;
    case TransportErrorKind::kReset:
    case TransportErrorKind::kIo:
      return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace

Env::Env(Clock& clock, Scheduler& scheduler, Chaos& chaos)
    : Env(clock, scheduler, chaos, no_memory_return_) {}

Env::Env(Clock& clock, Scheduler& scheduler, Chaos& chaos, MemoryReturn& memory)
    : clock_(&clock),
      scheduler_(&scheduler),
      chaos_(&chaos),
      memory_(std::make_shared<MemoryReturnThrottle>(clock, memory)) {}

absl::StatusOr<size_t> Transport::ReadV(absl::Span<const absl::Span<char>> spans) {
  DRPC_CHECK(!spans.empty() && !spans[0].empty());
  return Read(spans[0].data(), spans[0].size());
}

absl::Status Transport::WriteV(absl::Span<const absl::string_view> pieces) {
  if (pieces.size() == 1) return Write(pieces[0]);
  size_t total = 0;
  for (absl::string_view p : pieces) total += p.size();
  std::string joined;
  joined.reserve(total);
  for (absl::string_view p : pieces) joined.append(p.data(), p.size());
  return Write(joined);
}

absl::StatusOr<size_t> Transport::TryWriteV(absl::Span<const absl::string_view> pieces) {
  size_t total = 0;
  for (absl::string_view p : pieces) total += p.size();
  std::string joined;
  joined.reserve(total);
  for (absl::string_view p : pieces) joined.append(p.data(), p.size());
  if (absl::Status s = Write(joined); !s.ok()) return s;
  return total;
}

absl::string_view TransportErrorKindName(TransportErrorKind kind) {
  switch (kind) {
    case TransportErrorKind::kEof:
      return "EOF";
    case TransportErrorKind::kReset:
      return "connection reset";
    case TransportErrorKind::kClosedLocally:
      return "closed locally";
    case TransportErrorKind::kWriteAfterClose:
      return "write after close";
    case TransportErrorKind::kIo:
      return "I/O error";
  }
  return "unknown";
}

absl::Status TransportError(TransportErrorKind kind, absl::string_view detail) {
  std::string message = absl::StrCat("transport: ", TransportErrorKindName(kind));
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  absl::Status status(CodeFor(kind), message);
  status.SetPayload(kTransportKindPayload, absl::Cord(std::string(1, static_cast<char>(kind))));
  return status;
}

std::optional<TransportErrorKind> GetTransportErrorKind(const absl::Status& status) {
  auto payload = status.GetPayload(kTransportKindPayload);
  if (!payload.has_value() || payload->size() != 1) return std::nullopt;
  const auto value = static_cast<int>(static_cast<unsigned char>(payload->Flatten()[0]));
  if (value > static_cast<int>(TransportErrorKind::kIo)) return std::nullopt;
  return static_cast<TransportErrorKind>(value);
}

}  // namespace drpc
