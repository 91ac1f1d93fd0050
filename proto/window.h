// WindowUpdate bodies (kind 8, mux mode, docs/protocol.md §11.7): one varint credit delta in
// [1, limits::kWindowMaxBytes], no trailing bytes. Sent with control=1 and done=1, never split;
// stream ID 0 is reserved (a future connection-level window) and message ID is not checked (the
// packet is handled before assembly).
//
//   std::string body = EncodeWindowUpdate(65536);
//   absl::StatusOr<uint64_t> delta = DecodeWindowUpdate(body);
//
// Non-conforming updates are dropped by the receiver, not treated as fatal; DecodeWindowUpdate
// returns kInvalidArgument saying why, for logging.
//
// The mux fork (§11.7, §17) checks the whole frame in one place and accepts any delta
// in [1, 2^64-1]; its sender's credit saturates. ParseForkWindowUpdate is that contract:
//   std::string wire;
//   AppendWindowUpdateFrame(wire, /*stream=*/1, 128 * 1024);   // 91 01 00 03 80 80 08
//   absl::StatusOr<uint64_t> delta = ParseForkWindowUpdate(frame);   // kind 8, control, done,
//                                                                    // stream != 0, one varint > 0
#ifndef DRPC_PROTO_WINDOW_H_
#define DRPC_PROTO_WINDOW_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/frame.h"

namespace drpc {

std::string EncodeWindowUpdate(uint64_t delta_bytes);
absl::StatusOr<uint64_t> DecodeWindowUpdate(absl::string_view body);

// The fork's WindowUpdate frame: message ID 0, control and done set, one varint. `stream` >= 1,
// `delta_bytes` >= 1 (DRPC_CHECK: our own grants).
void AppendWindowUpdateFrame(std::string& out, uint64_t stream, uint64_t delta_bytes);
// The delta of a frame that satisfies the fork's v1 contract (any message ID), else
// kInvalidArgument naming the first violation; the receiver drops such a frame.
absl::StatusOr<uint64_t> ParseForkWindowUpdate(const Frame& frame);

}  // namespace drpc

#endif  // DRPC_PROTO_WINDOW_H_
