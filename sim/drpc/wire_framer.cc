#include "sim/drpc/wire_framer.h"

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace drpc::sim::wire_internal {
namespace {

// ParseFrame numbers offsets from the start of its input, where the frame it fails on starts;
// FrameParser names the frame's stream offset. Both errors it makes (a varint too long, a data
// overflow) say "at offset N" once.
absl::Status AtStreamOffset(const absl::Status& error, uint64_t frame_offset) {
  constexpr absl::string_view kAtStart = " at offset 0";
  std::string message(error.message());
  const size_t at = message.find(kAtStart.data(), 0, kAtStart.size());
  if (at != std::string::npos) {
    message.replace(at, kAtStart.size(), absl::StrCat(" at offset ", frame_offset));
  }
  return absl::Status(error.code(), message);
}

}  // namespace

WireFramer::Step WireFramer::ParseGeneral(absl::string_view in, Frame& frame, size_t& consumed) {
  absl::StatusOr<std::optional<Frame>> parsed = ParseFrame(in, frame_data_max_bytes_, &consumed);
  if (!parsed.ok()) {
    failed_ = true;
    error_ = AtStreamOffset(parsed.status(), offset_);
    return Step::kError;
  }
  if (!parsed->has_value()) return Step::kIncomplete;
  frame = **parsed;
  return Step::kFrame;
}

void WireFramer::Keep(absl::string_view in, size_t pos) {
  if (in.data() == held_.data()) {
    held_.erase(0, pos);
  } else if (pos < in.size()) {
    held_.assign(in.data() + pos, in.size() - pos);
  }
}

}  // namespace drpc::sim::wire_internal
