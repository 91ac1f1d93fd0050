#include "proto/error_codec.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/grpc_status.h"
#include "proto/limits.h"
#include "proto/protobuf_wire.h"

namespace drpc {
namespace {

// Longest prefix of `text` of at most `text_max_bytes` that does not end inside a UTF-8 sequence.
absl::string_view TruncateUtf8(absl::string_view text, size_t text_max_bytes) {
  if (text.size() <= text_max_bytes) return text;
  size_t end = text_max_bytes;
  // At most three continuation bytes (10xxxxxx) precede a sequence boundary in valid UTF-8.
  for (int i = 0; i < 3 && end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80; ++i) {
    --end;
  }
  return text.substr(0, end);
}

std::string Quoted(absl::string_view text) {
  constexpr size_t kShownMaxBytes = 200;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kShownMaxBytes)), "\"",
                      text.size() > kShownMaxBytes ? "..." : "");
}

std::string EncodeGrpcStatusBody(const RemoteError& error) {
  const std::string valid =
      pb::IsValidUtf8(error.text) ? std::string() : pb::ToValidUtf8(error.text);
  const absl::string_view text =
      TruncateUtf8(valid.empty() ? error.text : valid, limits::kErrorTextMaxBytes);
  // The fields are written straight into the body: no copy of the text or the details.
  std::string out(1, static_cast<char>(kGrpcStatusErrorVersion));
  AppendGrpcStatusHead(out, GrpcCodeForDrpcCode(error.code), text);
  size_t detail_count = 0;
  size_t detail_bytes = 0;
  for (const std::string& d : error.details) {
    // One place stays free for the code detail.
    if (detail_count + 1 >= limits::kErrorDetailsMaxCount) break;
    if (d.size() > limits::kErrorDetailsMaxBytes - detail_bytes) continue;
    // A Go peer rejects the whole body over one malformed Any; a stale code detail would
    // contradict the code.
    if (!IsValidAny(d) || DecodeDrpcCodeDetail(d).has_value()) continue;
    AppendGrpcStatusDetail(out, d);
    ++detail_count;
    detail_bytes += d.size();
  }
  if (DrpcCodeNeedsDetail(error.code)) {
    AppendGrpcStatusDetail(out, EncodeDrpcCodeDetail(error.code));
  }
  DRPC_DCHECK_LE(out.size(), limits::kGrpcErrorBodyMaxBytes);
  return out;
}

absl::StatusOr<RemoteError> DecodeGrpcStatusBody(absl::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("empty error data");
  const uint8_t version = static_cast<uint8_t>(body[0]);
  if (version != kGrpcStatusErrorVersion) {
    std::string message = absl::StrCat("unsupported error version: ", version);
    if (std::optional<std::string> note = OtherErrorFormatNote(ErrorFormat::kGrpcStatus, body)) {
      absl::StrAppend(&message, " (", *note, ")");
    }
    return absl::InvalidArgumentError(message);
  }
  absl::StatusOr<GrpcStatus> status = DecodeGrpcStatus(body.substr(1));
  if (!status.ok()) {
    return absl::Status(status.status().code(),
                        absl::StrCat("failed to unmarshal error: ", status.status().message()));
  }
  RemoteError error;
  error.text = std::move(status->message);
  error.details = std::move(status->details);
  std::optional<uint64_t> detail_code;
  if (status->code == kGrpcUnknown) {
    // The code detail is ours only next to Unknown, where we put it; elsewhere it is opaque.
    // Code details leave the list (the last one names the code), the others keep their order.
    size_t kept = 0;
    for (size_t i = 0; i < error.details.size(); ++i) {
      if (std::optional<uint64_t> code = DecodeDrpcCodeDetail(error.details[i])) {
        detail_code = code;
      } else {
        if (kept != i) error.details[kept] = std::move(error.details[i]);
        ++kept;
      }
    }
    error.details.resize(kept);
  }
  error.code = detail_code.has_value() ? *detail_code : DrpcCodeForGrpcCode(status->code);
  return error;
}

}  // namespace

absl::string_view ErrorFormatName(ErrorFormat format) {
  return format == ErrorFormat::kUpstream ? "upstream" : "grpc-status";
}

std::optional<ErrorFormat> ErrorFormatFromName(absl::string_view name) {
  if (name == "upstream") return ErrorFormat::kUpstream;
  if (name == "grpc-status") return ErrorFormat::kGrpcStatus;
  return std::nullopt;
}

std::string EncodeError(uint64_t code, absl::string_view text) {
  const absl::string_view sent = TruncateUtf8(text, limits::kErrorTextMaxBytes);
  std::string out;
  out.reserve(limits::kErrorCodeBytes + sent.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(code >> shift)));
  }
  out.append(sent.data(), sent.size());
  DRPC_DCHECK_LE(out.size(), limits::kErrorCodeBytes + limits::kErrorTextMaxBytes);
  return out;
}

RemoteError DecodeError(absl::string_view body) {
  if (body.size() < limits::kErrorCodeBytes) {
    return RemoteError{0, absl::StrCat(body, " (drpcwire note: invalid error data)")};
  }
  uint64_t code = 0;
  for (size_t i = 0; i < limits::kErrorCodeBytes; ++i) {
    code = (code << 8) | static_cast<uint8_t>(body[i]);
  }
  return RemoteError{code, std::string(body.substr(limits::kErrorCodeBytes))};
}

std::string EncodeErrorBody(ErrorFormat format, const RemoteError& error) {
  if (format == ErrorFormat::kUpstream) return EncodeError(error.code, error.text);
  return EncodeGrpcStatusBody(error);
}

absl::StatusOr<RemoteError> DecodeErrorBody(ErrorFormat format, absl::string_view body) {
  if (format == ErrorFormat::kUpstream) return DecodeError(body);
  return DecodeGrpcStatusBody(body);
}

std::optional<std::string> OtherErrorFormatNote(ErrorFormat format, absl::string_view body) {
  if (format == ErrorFormat::kUpstream) {
    if (body.empty() || static_cast<uint8_t>(body[0]) != kGrpcStatusErrorVersion) {
      return std::nullopt;
    }
    absl::StatusOr<GrpcStatus> s = DecodeGrpcStatus(body.substr(1));
    if (!s.ok()) return std::nullopt;
    return absl::StrCat("the body is also a well-formed gRPC-status error body (the mux fork's "
                        "format): grpc code=", s->code, " message=", Quoted(s->message));
  }
  // An upstream body with a code below 2^56 starts with 0: never a gRPC-status body.
  if (body.size() < limits::kErrorCodeBytes || body[0] != 0) return std::nullopt;
  const RemoteError e = DecodeError(body);
  return absl::StrCat("it looks like an upstream drpc error body: code=", e.code,
                      " text=", Quoted(e.text));
}

std::string RefusalErrorText(uint64_t max_streams) {
  return absl::StrCat("too many concurrent streams: refused: at most ", max_streams,
                      " concurrent streams");
}

std::string MessageTooLargeErrorText(uint64_t max_message_bytes) {
  return absl::StrCat("message too large: message size exceeds maximum of ", max_message_bytes,
                      " bytes");
}

std::string RecvQueueCapErrorText(uint64_t cap_bytes) {
  return absl::StrCat("receive queue cap exceeded: receive queue exceeded its ", cap_bytes,
                      "-byte cap");
}

}  // namespace drpc
