#include "proto/window.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/varint.h"

namespace drpc {

std::string EncodeWindowUpdate(uint64_t delta_bytes) {
  DRPC_CHECK_GE(delta_bytes, 1u);
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
  return delta;
}

void AppendWindowUpdateFrame(std::string& out, uint64_t stream, uint64_t delta_bytes) {
  DRPC_CHECK_GE(stream, 1u);
  DRPC_CHECK_GE(delta_bytes, 1u);
  AppendFrame(out, Frame{.id = {stream, 0}, .kind = Kind::kWindowUpdate, .done = true,
                         .control = true, .data = EncodeWindowUpdate(delta_bytes)});
}

absl::StatusOr<uint64_t> ParseForkWindowUpdate(const Frame& frame) {
  if (frame.kind != Kind::kWindowUpdate) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid window update: kind ", KindName(frame.kind)));
  }
  if (!frame.control || !frame.done) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid window update: the ", frame.control ? "done" : "control", " bit is not set"));
  }
  if (frame.id.stream == 0) {
    return absl::InvalidArgumentError(
        "invalid window update: stream 0 (reserved for a connection-level window)");
  }
  return DecodeWindowUpdate(frame.data);
}

}  // namespace drpc
