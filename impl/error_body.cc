#include "impl/error_body.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "proto/base/check.h"
#include "proto/grpc_status.h"

namespace drpc {

std::string ErrorBodyFor(ErrorFormat format, const absl::Status& status) {
  DRPC_CHECK(!status.ok()) << "an Error packet reports an error";
  auto [code, text] = ToWireError(status);
  return EncodeErrorBody(format, RemoteError{code, std::move(text), GrpcDetails(status)});
}

absl::Status StatusFromErrorBody(ErrorFormat format, absl::string_view body) {
  absl::StatusOr<RemoteError> error = DecodeErrorBody(format, body);
  if (!error.ok()) {
    return ProtocolError(absl::StrCat("undecodable Error packet: ", error.status().message()));
  }
  absl::Status status = RemoteErrorStatus(error->code, error->text);
  if (!error->details.empty()) status = WithGrpcDetails(std::move(status), error->details);
  if (std::optional<std::string> note = OtherErrorFormatNote(format, body)) {
    status.SetPayload(kErrorFormatNotePayload, absl::Cord(*note));
  }
  return status;
}

absl::Status WithGrpcDetails(absl::Status status, const std::vector<std::string>& details) {
  // Stored as the details fields of a google.rpc.Status: one payload, order kept.
  status.SetPayload(kGrpcDetailsPayload,
                    absl::Cord(EncodeGrpcStatus(GrpcStatus{.details = details})));
  return status;
}

std::vector<std::string> GrpcDetails(const absl::Status& status) {
  auto payload = status.GetPayload(kGrpcDetailsPayload);
  if (!payload.has_value()) return {};
  absl::StatusOr<GrpcStatus> decoded = DecodeGrpcStatus(std::string(*payload));
  return decoded.ok() ? std::move(decoded->details) : std::vector<std::string>{};
}

std::optional<std::string> ErrorFormatNote(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorFormatNotePayload);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

}  // namespace drpc
