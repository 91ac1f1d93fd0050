#include "proto/window.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/varint.h"

namespace drpc {

std::string EncodeWindowUpdate(uint64_t delta_bytes) {
  DRPC_CHECK_GE(delta_bytes, limits::kWindowMinBytes);
  DRPC_CHECK_LE(delta_bytes, limits::kWindowMaxBytes);
  std::string out;
  AppendVarint(out, delta_bytes);
  return out;
}

absl::StatusOr<uint64_t> DecodeWindowUpdate(absl::string_view body) {
  uint64_t delta = 0;
  size_t n = 0;
  switch (DecodeVarint(body, &delta, &n)) {
    case VarintStatus::kOk:
      break;
    case VarintStatus::kIncomplete:
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid window update: ", body.empty() ? "empty body" : "truncated varint", " (",
          body.size(), " bytes)"));
    case VarintStatus::kTooLong:
      return absl::InvalidArgumentError("invalid window update: varint too long");
  }
  if (n != body.size()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid window update: ", body.size() - n,
                                                   " trailing bytes after the delta"));
  }
  if (delta == 0) return absl::InvalidArgumentError("invalid window update: zero delta");
  if (delta > limits::kWindowMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("invalid window update: delta ", delta,
                                                   " exceeds the largest window of ",
                                                   limits::kWindowMaxBytes, " bytes"));
  }
  return delta;
}

}  // namespace drpc
