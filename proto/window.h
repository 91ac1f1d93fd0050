// WindowUpdate frames (kind 8, mux mode, docs/protocol.md §11.7, §17): the cockroachdb/drpc fork's
// per-stream flow-control credit. The body is one varint delta in [1, 2^64-1] with nothing after
// it; the frame has control=1 and done=1 and is never split; stream ID 0 is reserved (a future
// connection-level window) and the message ID is not checked (the frame is handled before
// assembly; senders use 0).
//
//   std::string wire;
//   AppendWindowUpdateFrame(wire, /*stream=*/1, 128 * 1024);          // 91 01 00 03 80 80 08
//   absl::StatusOr<uint64_t> delta = ParseForkWindowUpdate(frame);    // 131072
//
// A frame that breaks the contract is dropped by its receiver, never fatal: ParseForkWindowUpdate
// and DecodeWindowUpdate return kInvalidArgument saying why, for logs and tools.
#ifndef DRPC_PROTO_WINDOW_H_
#define DRPC_PROTO_WINDOW_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/frame.h"

namespace drpc {

// The body alone: `delta_bytes` >= 1 (DRPC_CHECK: our own grants).
std::string EncodeWindowUpdate(uint64_t delta_bytes);
// The delta of a body, or kInvalidArgument (empty, truncated, too long, trailing bytes, zero).
absl::StatusOr<uint64_t> DecodeWindowUpdate(absl::string_view body);

// The whole frame: message ID 0, control and done set. `stream` >= 1, `delta_bytes` >= 1
// (DRPC_CHECK: our own grants).
void AppendWindowUpdateFrame(std::string& out, uint64_t stream, uint64_t delta_bytes);
// The delta of a frame that satisfies the contract (any message ID), else kInvalidArgument naming
// the first violation (kind, control or done bit, stream 0, the body's rules).
absl::StatusOr<uint64_t> ParseForkWindowUpdate(const Frame& frame);

}  // namespace drpc

#endif  // DRPC_PROTO_WINDOW_H_
