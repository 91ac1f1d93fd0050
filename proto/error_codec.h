// Error packet bodies (spec §6): 8-byte big-endian code, then UTF-8 text running to the end.
//
//   std::string body = EncodeError(42, "boom");   // 00 00 00 00 00 00 00 2A "boom"
//   RemoteError e = DecodeError(body);            // {42, "boom"}
//
// Decoding never fails, as in Go: a body shorter than 8 bytes becomes code 0 and the text
// "<body> (drpcwire note: invalid error data)". Code 0 means "no code".
// Encoding truncates text beyond limits::kErrorTextMaxBytes (Error packets are never split, so an
// unbounded text could exceed the peer's frame limit; spec §13 item 15).
#ifndef DRPC_PROTO_ERROR_CODEC_H_
#define DRPC_PROTO_ERROR_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace drpc {

struct RemoteError {
  uint64_t code = 0;
  std::string text;
  friend bool operator==(const RemoteError&, const RemoteError&) = default;
};

std::string EncodeError(uint64_t code, absl::string_view text);
RemoteError DecodeError(absl::string_view body);

}  // namespace drpc

#endif  // DRPC_PROTO_ERROR_CODEC_H_
