// Error packet bodies, in the two formats DRPC peers use:
//   * upstream (Go storj/drpc, docs/protocol.md §6): 8-byte big-endian code, then UTF-8 text to the end;
//   * gRPC status (the cockroachdb/drpc mux fork, §16): one version byte 0x01,
//     then a protobuf google.rpc.Status (code, message, details; proto/grpc_status.h).
//
//   std::string body = EncodeError(42, "boom");   // 00 00 00 00 00 00 00 2A "boom"
//   RemoteError e = DecodeError(body);            // {42, "boom"}
//
//   std::string fork = EncodeErrorBody(ErrorFormat::kGrpcStatus, {.code = 0, .text = "boom"});
//                                                 // 01 08 02 12 04 "boom"
//   absl::StatusOr<RemoteError> r =
//       DecodeErrorBody(ErrorFormat::kGrpcStatus, fork);   // {0, "boom"}
//
// The two formats cannot be told apart reliably (an upstream code of 2^56 or more starts with
// 0x01), so the caller always names the format: a connection is configured with one. Nothing
// guesses. A body that is not in the named format is never silently reinterpreted:
//   * upstream decoding never fails, as in Go: a body shorter than 8 bytes becomes code 0 and the
//     text "<body> (drpcwire note: invalid error data)". Code 0 means "no code". Details are not
//     carried (upstream has no place for them). OtherErrorFormatNote() says when such a body is a
//     well-formed gRPC-status body, for logs and tools;
//   * gRPC-status decoding fails with kInvalidArgument for an empty body ("empty error data"), a
//     version byte other than 0x01 ("unsupported error version: N", with a note when the body
//     looks like an upstream one) or a malformed Status ("failed to unmarshal error: ..."), the
//     cases in which a Go fork peer fails too. DRPC and gRPC codes map as grpc_status.h says.
// Encoding truncates text beyond limits::kErrorTextMaxBytes on a UTF-8 boundary (Error packets
// are never split, so an unbounded text could exceed the peer's frame limit; docs/protocol.md §13 item 15).
// In the gRPC-status format it also replaces invalid UTF-8 with U+FFFD (a Go peer rejects the
// whole body otherwise) and keeps, in order, the details that are valid Any messages and fit
// limits::kErrorDetailsMaxCount and kErrorDetailsMaxBytes; the others are dropped, like text past
// its limit.
#ifndef DRPC_PROTO_ERROR_CODEC_H_
#define DRPC_PROTO_ERROR_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

struct RemoteError {
  uint64_t code = 0;
  std::string text;
  // gRPC-status format only: encoded google.protobuf.Any messages, opaque, in wire order (without
  // the detail that carries a DRPC code, grpc_status.h).
  std::vector<std::string> details;
  friend bool operator==(const RemoteError&, const RemoteError&) = default;
};

enum class ErrorFormat : uint8_t {
  kUpstream,    // Go storj/drpc; the default, also of our mux mode until configured otherwise
  kGrpcStatus,  // the cockroachdb/drpc mux fork
};
// "upstream" / "grpc-status" (flag values of the tools).
absl::string_view ErrorFormatName(ErrorFormat format);
std::optional<ErrorFormat> ErrorFormatFromName(absl::string_view name);

// The version byte of a gRPC-status error body (Go's drpcwire.ErrorGRPCStatus).
inline constexpr uint8_t kGrpcStatusErrorVersion = 0x01;

// Upstream format.
std::string EncodeError(uint64_t code, absl::string_view text);
RemoteError DecodeError(absl::string_view body);

// Either format. Upstream decoding is DecodeError and never fails.
std::string EncodeErrorBody(ErrorFormat format, const RemoteError& error);
absl::StatusOr<RemoteError> DecodeErrorBody(ErrorFormat format, absl::string_view body);
// If `body` is not a well-formed body of `format` (or, for the upstream format, is ambiguous) but
// is a well-formed body of the other format, a sentence saying so and what it decodes to.
std::optional<std::string> OtherErrorFormatNote(ErrorFormat format, absl::string_view body);

// The texts the fork's library sends (§16.2), byte for byte:
// MaxStreams refusal (gRPC Unknown; our kRefusedPrefix + ": at most N concurrent streams"),
std::string RefusalErrorText(uint64_t max_streams);
// a message over MaxMessageSize (gRPC ResourceExhausted, control bit),
std::string MessageTooLargeErrorText(uint64_t max_message_bytes);
// a receive queue over its byte cap (gRPC ResourceExhausted, control bit).
std::string RecvQueueCapErrorText(uint64_t cap_bytes);

}  // namespace drpc

#endif  // DRPC_PROTO_ERROR_CODEC_H_
