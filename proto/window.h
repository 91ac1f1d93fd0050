// WindowUpdate bodies (kind 8, mux mode, spec §11.7): one varint credit delta in
// [1, limits::kWindowMaxBytes], no trailing bytes. Sent with control=1 and done=1, never split;
// stream ID 0 is reserved (a future connection-level window) and message ID is not checked (the
// packet is handled before assembly).
//
//   std::string body = EncodeWindowUpdate(65536);
//   absl::StatusOr<uint64_t> delta = DecodeWindowUpdate(body);
//
// Non-conforming updates are dropped by the receiver, not treated as fatal; DecodeWindowUpdate
// returns kInvalidArgument saying why, for logging.
#ifndef DRPC_PROTO_WINDOW_H_
#define DRPC_PROTO_WINDOW_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

std::string EncodeWindowUpdate(uint64_t delta_bytes);
absl::StatusOr<uint64_t> DecodeWindowUpdate(absl::string_view body);

}  // namespace drpc

#endif  // DRPC_PROTO_WINDOW_H_
