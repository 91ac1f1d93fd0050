// The Snappy block format (not the framed stream format): a uvarint uncompressed length, then
// literal and copy elements. The mux fork's "snappy" compression, and its "minlz-fastest" for
// messages MinLZ is not used for (proto/compression.h). Backed by Debian's libsnappy.
//
//   std::string block = SnappyEncodeBlock(message);
//   std::string back;
//   absl::Status s = SnappyDecodeBlock(block, /*max_bytes=*/limit, &back);
//
// Decoding checks the stated length against `max_bytes` before allocating anything (a longer
// block is kResourceExhausted "snappy: ... exceeds the limit ..."), and reports a block whose
// length cannot be read (a missing or longer than 32-bit uvarint) or whose elements are corrupt
// as kInvalidArgument "snappy: ...". A block stating more than 64 KiB is validated (which writes
// nothing) before its output is allocated, so a short corrupt block never costs the memory it
// claims. libsnappy never writes past the stated length.
#ifndef DRPC_PROTO_SNAPPY_BLOCK_H_
#define DRPC_PROTO_SNAPPY_BLOCK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

// `src.size()` must be at most limits::kSnappyBlockMaxBytes (DRPC_CHECK).
std::string SnappyEncodeBlock(absl::string_view src);
absl::StatusOr<uint64_t> SnappyDecodedLength(absl::string_view block);
// Replaces `*out` with the decoded block.
absl::Status SnappyDecodeBlock(absl::string_view block, size_t max_bytes, std::string* out);

}  // namespace drpc

#endif  // DRPC_PROTO_SNAPPY_BLOCK_H_
