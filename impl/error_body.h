// Error packet bodies for statuses, in either wire format (proto/error_codec.h): the glue between
// the error vocabulary of impl/errors.h and the two formats DRPC peers speak.
//
//   std::string body = ErrorBodyFor(ErrorFormat::kGrpcStatus, absl::NotFoundError("no such key"));
//                                                         // 01 08 05 12 0b "no such key"
//   absl::Status s = StatusFromErrorBody(ErrorFormat::kGrpcStatus, body);
//   // s: kNotFound "no such key", RemoteErrorCode(s) == 5, as RemoteErrorStatus makes it
//
// Codes: ToWireError picks the DRPC code (an explicit WithRemoteErrorCode, else the absl code
// number, which is also the gRPC code); proto/grpc_status.h maps it for the gRPC-status format:
//
// | DRPC code sent                 | gRPC-status body carries          | DRPC code received |
// |--------------------------------|-----------------------------------|--------------------|
// | 1..16 except 2 (absl codes)    | that gRPC code                    | the same           |
// | 0 ("no code", e.g. refusals)   | 2 Unknown                         | 0                  |
// | 2, and application codes > 16  | 2 Unknown + drpc.ErrorCode detail | the same           |
// | (from a Go fork peer) Unknown  | 2 Unknown, no detail              | 0                  |
//
// so every code survives between drpc-cpp peers, a Go fork peer sees the gRPC code it expects
// (Unknown for a plain handler error, as its own handlers send), and the fork's MaxStreams refusal
// (Unknown, "too many concurrent streams: refused: ...") is kResourceExhausted here as in upstream
// mode. gRPC details (google.protobuf.Any, opaque) travel in the status payload
// kGrpcDetailsPayload both ways; the upstream format has no place for them.
//
// A body that does not decode in the configured format is never taken for the other one: a
// malformed gRPC-status body gives kInternal "protocol error: undecodable Error packet: ..." (with
// Go's wording: "unsupported error version: 0", "empty error data", "failed to unmarshal ..."),
// and an upstream body that is also a well-formed gRPC-status body decodes as upstream (Go's rule)
// with a note in payload kErrorFormatNotePayload saying what else it could be.
#ifndef DRPC_IMPL_ERROR_BODY_H_
#define DRPC_IMPL_ERROR_BODY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/error_codec.h"

namespace drpc {

inline constexpr absl::string_view kGrpcDetailsPayload = "drpc.grpc_status.details";
inline constexpr absl::string_view kErrorFormatNotePayload = "drpc.error_format_note";

// The body of the Error packet that reports `status` (not OK) to the peer.
std::string ErrorBodyFor(ErrorFormat format, const absl::Status& status);
// The status of a received Error packet's body.
absl::Status StatusFromErrorBody(ErrorFormat format, absl::string_view body);

// gRPC details (encoded google.protobuf.Any messages) attached to a status, in order.
absl::Status WithGrpcDetails(absl::Status status, const std::vector<std::string>& details);
std::vector<std::string> GrpcDetails(const absl::Status& status);
// The note StatusFromErrorBody attached, if any.
std::optional<std::string> ErrorFormatNote(const absl::Status& status);

}  // namespace drpc

#endif  // DRPC_IMPL_ERROR_BODY_H_
