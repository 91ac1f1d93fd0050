#include "proto/test_frames.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/base/check.h"

namespace drpc::testing {
namespace {

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  DRPC_CHECK(false) << "bad hex digit '" << c << "'";
  return 0;
}

}  // namespace

std::string Bytes(absl::string_view hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (high < 0) {
      high = Nibble(c);
    } else {
      out.push_back(static_cast<char>(high * 16 + Nibble(c)));
      high = -1;
    }
  }
  DRPC_CHECK_EQ(high, -1) << "odd number of hex digits in " << std::string(hex);
  return out;
}

std::string Hex(absl::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    absl::StrAppendFormat(&out, "%02x", static_cast<uint8_t>(c));
  }
  return out;
}

OwnedFrame Own(const Frame& frame) {
  return OwnedFrame{frame.id, frame.kind, frame.done, frame.control, std::string(frame.data)};
}

std::ostream& operator<<(std::ostream& os, const OwnedFrame& frame) {
  os << KindName(frame.kind) << " " << PacketIdString(frame.id) << (frame.done ? " done" : "")
     << (frame.control ? " control" : "") << " len=" << frame.data.size() << " data="
     << Hex(absl::string_view(frame.data).substr(0, 32)) << (frame.data.size() > 32 ? " ..." : "");
  return os;
}

std::string EncodeFrame(uint64_t stream, uint64_t message, Kind kind, bool done,
                        absl::string_view data, bool control) {
  std::string out;
  AppendFrame(out, Frame{.id = {stream, message},
                         .kind = kind,
                         .done = done,
                         .control = control,
                         .data = data});
  return out;
}

absl::StatusOr<std::vector<OwnedFrame>> ParseAllFrames(absl::string_view wire,
                                                       size_t frame_data_max_bytes) {
  std::vector<OwnedFrame> frames;
  while (!wire.empty()) {
    size_t consumed = 0;
    absl::StatusOr<std::optional<Frame>> f = ParseFrame(wire, frame_data_max_bytes, &consumed);
    if (!f.ok()) return f.status();
    if (!f->has_value()) {
      return absl::DataLossError(absl::StrCat(wire.size(), " trailing bytes form no frame"));
    }
    frames.push_back(Own(**f));
    wire.remove_prefix(consumed);
  }
  return frames;
}

}  // namespace drpc::testing
