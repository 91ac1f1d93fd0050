// Helpers on absl::Status used throughout drpc-cpp.
//
//   DRPC_RETURN_IF_ERROR(parser.Feed(bytes));
//   DRPC_ASSIGN_OR_RETURN(Frame frame, ParseOne(bytes));
//   return Annotate(status, "reading stream 3");   // "reading stream 3: <original message>"
//
// Errors about bytes received from a peer are statuses, never assertions; their message says what
// was wrong and where (offset, stream, message ID), so a user can act on it.
#ifndef DRPC_PROTO_BASE_STATUS_H_
#define DRPC_PROTO_BASE_STATUS_H_

#include "absl/strings/string_view.h"
#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace drpc {

// Returns `status` with `context` prepended to its message ("context: message"); the code and
// payloads are kept. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// Same code and payloads as `status`, with the message replaced.
absl::Status WithMessage(const absl::Status& status, absl::string_view message);

namespace status_internal {
inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace status_internal

}  // namespace drpc

#define DRPC_STATUS_CONCAT_INNER_(a, b) a##b
#define DRPC_STATUS_CONCAT_(a, b) DRPC_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status or absl::StatusOr) once; returns its status if not OK.
#define DRPC_RETURN_IF_ERROR(expr)                                                        \
  do {                                                                                    \
    if (const ::absl::Status drpc_status_ = ::drpc::status_internal::AsStatus((expr));    \
        ABSL_PREDICT_FALSE(!drpc_status_.ok())) {                                         \
      return drpc_status_;                                                                \
    }                                                                                     \
  } while (false)

// `lhs` may be a declaration (`Frame f`) or an existing lvalue. Returns the error of `rexpr`.
#define DRPC_ASSIGN_OR_RETURN(lhs, rexpr) \
  DRPC_ASSIGN_OR_RETURN_IMPL_(DRPC_STATUS_CONCAT_(drpc_statusor_, __LINE__), lhs, rexpr)

#define DRPC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {               \
    return std::move(statusor).status();                  \
  }                                                       \
  lhs = *std::move(statusor)

#endif  // DRPC_PROTO_BASE_STATUS_H_
