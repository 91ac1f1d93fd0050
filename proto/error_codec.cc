#include "proto/error_codec.h"

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"

namespace drpc {
namespace {

// Longest prefix of `text` of at most `text_max_bytes` that does not end inside a UTF-8 sequence.
absl::string_view TruncateUtf8(absl::string_view text, size_t text_max_bytes) {
  if (text.size() <= text_max_bytes) return text;
  size_t end = text_max_bytes;
  // At most three continuation bytes (10xxxxxx) precede a sequence boundary in valid UTF-8.
  for (int i = 0; i < 3 && end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80; ++i) {
    --end;
  }
  return text.substr(0, end);
}

}  // namespace

std::string EncodeError(uint64_t code, absl::string_view text) {
  const absl::string_view sent = TruncateUtf8(text, limits::kErrorTextMaxBytes);
  std::string out;
  out.reserve(limits::kErrorCodeBytes + sent.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(code >> shift)));
  }
  out.append(sent.data(), sent.size());
  DRPC_DCHECK_LE(out.size(), limits::kErrorCodeBytes + limits::kErrorTextMaxBytes);
  return out;
}

RemoteError DecodeError(absl::string_view body) {
  if (body.size() < limits::kErrorCodeBytes) {
    return RemoteError{0, absl::StrCat(body, " (drpcwire note: invalid error data)")};
  }
  uint64_t code = 0;
  for (size_t i = 0; i < limits::kErrorCodeBytes; ++i) {
    code = (code << 8) | static_cast<uint8_t>(body[i]);
  }
  return RemoteError{code, std::string(body.substr(limits::kErrorCodeBytes))};
}

}  // namespace drpc
