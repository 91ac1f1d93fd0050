// google.rpc.Status, the payload of the mux fork's Error bodies (§16), and the
// mapping between DRPC codes and gRPC codes.
//
//   GrpcStatus s{.code = 2, .message = "boom"};
//   std::string bytes = EncodeGrpcStatus(s);               // 08 02 12 04 62 6f 6f 6d
//   absl::StatusOr<GrpcStatus> back = DecodeGrpcStatus(bytes);
//
//   message Status { int32 code = 1; string message = 2;
//                    repeated google.protobuf.Any details = 3; }
//   message Any    { string type_url = 1; bytes value = 2; }
//
// Encoding follows proto3 and Go's marshaller: fields in number order, a zero code and an empty
// message omitted, the message sent as valid UTF-8 (invalid sequences become U+FFFD, or a Go peer
// would reject the whole body). Details are opaque encoded Any messages, carried through byte for
// byte. Decoding is as strict as Go's (proto/protobuf_wire.h): a malformed field, a message or
// type URL that is not valid UTF-8, or a detail that is not a valid Any is kInvalidArgument;
// unknown fields are skipped; a field repeated on the wire keeps its last value (code, message)
// or accumulates (details). More than limits::kErrorDetailsMaxCount details is
// kResourceExhausted.
//
// DRPC codes are uint64 and application-defined; gRPC codes are 0..16. The mapping (both ways):
//   DRPC 1..16, except 2      <->  the same gRPC code (absl::StatusCode numbers are gRPC codes)
//   DRPC 0 ("no code")        <->  gRPC 2 Unknown without a code detail (a Go fork handler's
//                                  plain error arrives as this)
//   DRPC 2 and anything > 16  <->  gRPC 2 Unknown + a detail of type kDrpcCodeTypeUrl holding
//                                  the exact DRPC code, so drpc-cpp peers round-trip every code;
//                                  a fork peer sees Unknown and ignores the detail
//   gRPC 0 (OK) or < 0        -->  DRPC 0; gRPC > 16 --> the same number
#ifndef DRPC_PROTO_GRPC_STATUS_H_
#define DRPC_PROTO_GRPC_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

struct GrpcStatus {
  int32_t code = 0;
  std::string message;
  std::vector<std::string> details;  // each an encoded google.protobuf.Any
  friend bool operator==(const GrpcStatus&, const GrpcStatus&) = default;
};

struct AnyMessage {
  std::string type_url;
  std::string value;
  friend bool operator==(const AnyMessage&, const AnyMessage&) = default;
};

std::string EncodeGrpcStatus(const GrpcStatus& status);
// EncodeGrpcStatus in pieces, appended to `out` without copying the parts into a GrpcStatus:
// the code and message fields (what EncodeGrpcStatus writes first), then one details field per
// call, in order.
void AppendGrpcStatusHead(std::string& out, int32_t code, absl::string_view message);
void AppendGrpcStatusDetail(std::string& out, absl::string_view any);
absl::StatusOr<GrpcStatus> DecodeGrpcStatus(absl::string_view bytes);

// `type_url` must be valid UTF-8 (DRPC_CHECK: type URLs are ours or come from a decoded Any).
std::string EncodeAny(absl::string_view type_url, absl::string_view value);
absl::StatusOr<AnyMessage> DecodeAny(absl::string_view bytes);
// Whether DecodeAny would accept `bytes` (checked without copying anything).
bool IsValidAny(absl::string_view bytes);

// The detail drpc-cpp adds for DRPC codes gRPC cannot carry: `message drpc.ErrorCode { uint64
// code = 1; }` packed in an Any.
inline constexpr absl::string_view kDrpcCodeTypeUrl = "type.googleapis.com/drpc.ErrorCode";
std::string EncodeDrpcCodeDetail(uint64_t drpc_code);
// The code if `any_bytes` is a well-formed drpc.ErrorCode detail, else std::nullopt.
std::optional<uint64_t> DecodeDrpcCodeDetail(absl::string_view any_bytes);

inline constexpr int32_t kGrpcUnknown = 2;
inline constexpr int32_t kGrpcCodeMax = 16;  // Unauthenticated
int32_t GrpcCodeForDrpcCode(uint64_t drpc_code);
// Whether the DRPC code needs the kDrpcCodeTypeUrl detail to survive the trip.
bool DrpcCodeNeedsDetail(uint64_t drpc_code);
// The DRPC code of a gRPC code that arrived without a code detail.
uint64_t DrpcCodeForGrpcCode(int32_t grpc_code);

}  // namespace drpc

#endif  // DRPC_PROTO_GRPC_STATUS_H_
