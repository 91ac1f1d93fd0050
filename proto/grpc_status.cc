#include "proto/grpc_status.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/protobuf_wire.h"

namespace drpc {
namespace {

constexpr uint32_t kStatusCodeField = 1;
constexpr uint32_t kStatusMessageField = 2;
constexpr uint32_t kStatusDetailsField = 3;
constexpr uint32_t kAnyTypeUrlField = 1;
constexpr uint32_t kAnyValueField = 2;
constexpr uint32_t kErrorCodeField = 1;

// An Any's fields as views into `bytes` (validating without copying: a Status carries up to
// kErrorDetailsMaxCount of them, each checked on receipt).
struct AnyView {
  absl::string_view type_url;
  absl::string_view value;
};

absl::StatusOr<AnyView> ParseAny(absl::string_view bytes) {
  AnyView any;
  pb::Reader reader(bytes);
  pb::Field field;
  while (reader.Next(&field)) {
    // Unknown fields, and known ones with another wire type, are skipped as Go's decoder does.
    if (field.number == kAnyTypeUrlField && field.type == pb::WireType::kLen) {
      if (!pb::IsValidUtf8(field.bytes)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "protobuf: google.protobuf.Any.type_url at offset ", field.offset,
            " contains invalid UTF-8"));
      }
      any.type_url = field.bytes;
    } else if (field.number == kAnyValueField && field.type == pb::WireType::kLen) {
      any.value = field.bytes;
    }
  }
  if (!reader.status().ok()) return reader.status();
  return any;
}

}  // namespace

void AppendGrpcStatusHead(std::string& out, int32_t code, absl::string_view message) {
  // int32 is sign-extended to 64 bits on the wire, as every protobuf runtime writes it.
  if (code != 0) {
    pb::AppendVarintField(out, kStatusCodeField, static_cast<uint64_t>(static_cast<int64_t>(code)));
  }
  if (!message.empty()) {
    if (pb::IsValidUtf8(message)) {
      pb::AppendLenField(out, kStatusMessageField, message);
    } else {
      pb::AppendLenField(out, kStatusMessageField, pb::ToValidUtf8(message));
    }
  }
}

void AppendGrpcStatusDetail(std::string& out, absl::string_view any) {
  pb::AppendLenField(out, kStatusDetailsField, any);
}

std::string EncodeGrpcStatus(const GrpcStatus& status) {
  std::string out;
  AppendGrpcStatusHead(out, status.code, status.message);
  for (const std::string& d : status.details) AppendGrpcStatusDetail(out, d);
  return out;
}

absl::StatusOr<GrpcStatus> DecodeGrpcStatus(absl::string_view bytes) {
  GrpcStatus status;
  pb::Reader reader(bytes);
  pb::Field field;
  while (reader.Next(&field)) {
    // A known field number with another wire type is an unknown field to Go's decoder too.
    if (field.number == kStatusCodeField && field.type == pb::WireType::kVarint) {
      status.code = static_cast<int32_t>(static_cast<uint32_t>(field.varint));
    } else if (field.number == kStatusMessageField && field.type == pb::WireType::kLen) {
      if (!pb::IsValidUtf8(field.bytes)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "protobuf: google.rpc.Status.message at offset ", field.offset,
            " contains invalid UTF-8"));
      }
      status.message.assign(field.bytes.data(), field.bytes.size());
    } else if (field.number == kStatusDetailsField && field.type == pb::WireType::kLen) {
      if (status.details.size() == limits::kErrorDetailsMaxCount) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "google.rpc.Status has more than ", limits::kErrorDetailsMaxCount, " details"));
      }
      if (absl::StatusOr<AnyView> any = ParseAny(field.bytes); !any.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("google.rpc.Status detail ",
                                                       status.details.size(), " at offset ",
                                                       field.offset, ": ", any.status().message()));
      }
      status.details.emplace_back(field.bytes);
    }
  }
  if (!reader.status().ok()) return reader.status();
  return status;
}

std::string EncodeAny(absl::string_view type_url, absl::string_view value) {
  DRPC_CHECK(pb::IsValidUtf8(type_url)) << "type URL is not valid UTF-8";
  std::string out;
  if (!type_url.empty()) pb::AppendLenField(out, kAnyTypeUrlField, type_url);
  if (!value.empty()) pb::AppendLenField(out, kAnyValueField, value);
  return out;
}

absl::StatusOr<AnyMessage> DecodeAny(absl::string_view bytes) {
  absl::StatusOr<AnyView> view = ParseAny(bytes);
  if (!view.ok()) return view.status();
  return AnyMessage{std::string(view->type_url), std::string(view->value)};
}

bool IsValidAny(absl::string_view bytes) { return ParseAny(bytes).ok(); }

std::string EncodeDrpcCodeDetail(uint64_t drpc_code) {
  std::string value;
  if (drpc_code != 0) pb::AppendVarintField(value, kErrorCodeField, drpc_code);
  std::string out = EncodeAny(kDrpcCodeTypeUrl, value);
  DRPC_DCHECK_LE(out.size(), limits::kErrorCodeDetailMaxBytes);
  return out;
}

std::optional<uint64_t> DecodeDrpcCodeDetail(absl::string_view any_bytes) {
  absl::StatusOr<AnyView> any = ParseAny(any_bytes);
  if (!any.ok() || any->type_url != kDrpcCodeTypeUrl) return std::nullopt;
  pb::Reader reader(any->value);
  uint64_t code = 0;
  pb::Field field;
  while (reader.Next(&field)) {
    if (field.number == kErrorCodeField) {
      if (field.type != pb::WireType::kVarint) return std::nullopt;
      code = field.varint;
    }
  }
  if (!reader.status().ok()) return std::nullopt;
  return code;
}

int32_t GrpcCodeForDrpcCode(uint64_t drpc_code) {
  if (drpc_code >= 1 && drpc_code <= static_cast<uint64_t>(kGrpcCodeMax)) {
    return static_cast<int32_t>(drpc_code);
  }
  return kGrpcUnknown;
}

bool DrpcCodeNeedsDetail(uint64_t drpc_code) {
  return drpc_code == static_cast<uint64_t>(kGrpcUnknown) ||
         drpc_code > static_cast<uint64_t>(kGrpcCodeMax);
}

uint64_t DrpcCodeForGrpcCode(int32_t grpc_code) {
  if (grpc_code <= 0 || grpc_code == kGrpcUnknown) return 0;
  return static_cast<uint64_t>(grpc_code);
}

}  // namespace drpc
