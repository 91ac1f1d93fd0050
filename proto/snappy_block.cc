#include "proto/snappy_block.h"

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "snappy.h"

namespace drpc {
namespace {

// Blocks stating more than this are validated before their output is allocated.
constexpr uint64_t kValidateFirstMinBytes = 64 * 1024;

absl::Status CorruptError(size_t block_bytes, uint64_t length) {
  return absl::InvalidArgumentError(
      absl::StrCat("snappy: corrupt block (", block_bytes, " bytes stating ", length, ")"));
}

}  // namespace

std::string SnappyEncodeBlock(absl::string_view src) {
  DRPC_CHECK_LE(src.size(), limits::kSnappyBlockMaxBytes);
  std::string out;
  snappy::Compress(src.data(), src.size(), &out);
  return out;
}

absl::StatusOr<uint64_t> SnappyDecodedLength(absl::string_view block) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &length)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snappy: no valid uncompressed length at the start of the block (", block.size(),
        " bytes)"));
  }
  DRPC_DCHECK_LE(length, limits::kSnappyBlockMaxBytes);
  return length;
}

absl::Status SnappyDecodeBlock(absl::string_view block, size_t max_bytes, std::string* out) {
  absl::StatusOr<uint64_t> length = SnappyDecodedLength(block);
  if (!length.ok()) return length.status();
  if (*length > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("snappy: the block decompresses to ",
                                                     *length, " bytes, which exceeds the limit of ",
                                                     max_bytes, " bytes"));
  }
  // A large stated length is only allocated for a block that decodes: validating first (which
  // writes nothing) keeps a short corrupt block from costing the memory it claims.
  if (*length > kValidateFirstMinBytes &&
      !snappy::IsValidCompressedBuffer(block.data(), block.size())) {
    return CorruptError(block.size(), *length);
  }
  out->resize(*length);
  if (!snappy::RawUncompress(block.data(), block.size(), out->data())) {
    out->clear();
    return CorruptError(block.size(), *length);
  }
  return absl::OkStatus();
}

}  // namespace drpc
