#include "proto/compression.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/minlz.h"
#include "proto/snappy_block.h"

namespace drpc {

absl::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kSnappy:
      return "snappy";
    case Compression::kMinLzFastest:
      return "minlz-fastest";
    case Compression::kNone:
      break;
  }
  return "";
}

std::optional<Compression> CompressionFromName(absl::string_view name) {
  if (name == "snappy") return Compression::kSnappy;
  if (name == "minlz-fastest") return Compression::kMinLzFastest;
  return std::nullopt;
}

void SetRequestedCompression(Compression configured, Metadata& metadata) {
  if (configured == Compression::kNone) {
    metadata.erase(std::string(kCompressionMetadataKey));
    return;
  }
  metadata[std::string(kCompressionMetadataKey)] = std::string(CompressionName(configured));
}

absl::StatusOr<Compression> TakeRequestedCompression(Metadata& metadata) {
  auto it = metadata.find(kCompressionMetadataKey);
  if (it == metadata.end()) return Compression::kNone;
  const std::string name = std::move(it->second);
  metadata.erase(it);
  std::optional<Compression> c = CompressionFromName(name);
  if (!c.has_value()) {
    constexpr size_t kShownMaxBytes = 64;
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported compression: \"", absl::CHexEscape(name.substr(0, kShownMaxBytes)), "\"",
        name.size() > kShownMaxBytes ? "..." : ""));
  }
  return *c;
}

BlockFormat SenderBlockFormat(Compression compression, size_t message_bytes) {
  switch (compression) {
    case Compression::kNone:
      return BlockFormat::kNone;
    case Compression::kSnappy:
      return BlockFormat::kSnappy;
    case Compression::kMinLzFastest:
      // Snappy is faster for small messages; MinLZ blocks stop at 8 MiB.
      if (message_bytes <= limits::kMinLzSnappyThresholdBytes ||
          message_bytes > limits::kMinLzBlockMaxBytes) {
        return BlockFormat::kSnappy;
      }
      return BlockFormat::kMinLz;
  }
  return BlockFormat::kNone;
}

std::string CompressMessage(Compression compression, absl::string_view message) {
  switch (SenderBlockFormat(compression, message.size())) {
    case BlockFormat::kSnappy:
      return SnappyEncodeBlock(message);
    case BlockFormat::kMinLz:
      return MinLzEncodeBlock(message);
    case BlockFormat::kNone:
      break;
  }
  return std::string(message);
}

absl::StatusOr<uint64_t> DecompressedLength(Compression compression, absl::string_view body) {
  switch (compression) {
    case Compression::kSnappy:
      return SnappyDecodedLength(body);
    case Compression::kMinLzFastest:
      return MinLzDecodedLength(body);
    case Compression::kNone:
      break;
  }
  return body.size();
}

absl::Status DecompressMessage(Compression compression, absl::string_view body,
                               size_t message_max_bytes, std::string* out) {
  switch (compression) {
    case Compression::kSnappy:
      return SnappyDecodeBlock(body, message_max_bytes, out);
    case Compression::kMinLzFastest:
      return MinLzDecodeBlock(body, message_max_bytes, out);
    case Compression::kNone:
      break;
  }
  if (body.size() > message_max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("message of ", body.size(),
                                                     " bytes exceeds the limit of ",
                                                     message_max_bytes, " bytes"));
  }
  out->assign(body.data(), body.size());
  return absl::OkStatus();
}

}  // namespace drpc
