// The MinLZ block format (MinLZ specification v1.0, block format only; written from the
// published specification), the codec behind the mux fork's "minlz-fastest" compression.
//
//   std::string block = MinLzEncodeBlock(message);          // message <= kMinLzBlockMaxBytes
//   std::string back;
//   absl::Status s = MinLzDecodeBlock(block, /*max_bytes=*/limit, &back);
//
// A block is 0x00 (the MinLZ indicator), a uvarint uncompressed length, then tagged elements:
// literals, repeats of the last copy offset, and copies with 10-, 16- and 21-bit offsets (the
// latter two optionally fused with up to 4 literals). 0x00 alone is the empty block; a length of
// 0 followed by bytes is a stored block (the bytes are the content).
//
// Decoding accepts every encoding the specification defines and rejects the rest with
// kInvalidArgument "minlz: ...": a length over 8 MiB or beyond 32 bits, compressed bytes longer
// than the stated length, an element that reads past the input, writes past the stated length or
// copies from before the start, and output shorter than stated. A block whose first byte is not 0
// is a Snappy block, decoded as one (as Go's minlz.Decode does; Snappy is a subset of what Go
// accepts there, S2's extensions are not supported). The stated length is checked against
// `max_bytes` before anything is allocated: a longer block is kResourceExhausted and allocates
// nothing. Within the limit the output grows as elements produce it (at most 64 KiB is reserved
// up front), so a short corrupt block that states megabytes fails having allocated what it
// decoded, not what it stated.
//
// Encoding is a greedy single-pass LZ77 with a hash table of 4-byte sequences (the speed class of
// MinLZ's "fastest" level; the bytes differ from Go's encoder, which is allowed: only decoding
// is specified). It emits literals, Copy1/Copy2/Copy3 and repeats, and a stored block when
// compression does not pay. The output decodes with Go's minlz.Decode.
#ifndef DRPC_PROTO_MINLZ_H_
#define DRPC_PROTO_MINLZ_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

// `src.size()` must be at most limits::kMinLzBlockMaxBytes (DRPC_CHECK).
std::string MinLzEncodeBlock(absl::string_view src);

// The uncompressed length a MinLZ (or Snappy) block states, without decoding it.
absl::StatusOr<uint64_t> MinLzDecodedLength(absl::string_view block);

// Replaces `*out` with the decoded block.
absl::Status MinLzDecodeBlock(absl::string_view block, size_t max_bytes, std::string* out);

}  // namespace drpc

#endif  // DRPC_PROTO_MINLZ_H_
