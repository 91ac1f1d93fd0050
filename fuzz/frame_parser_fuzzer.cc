// Fuzzes the incremental FrameParser. Input: byte 0 picks the frame data limit, byte 1 seeds the
// segmentation, the rest is the byte stream. Checks, for every input:
//  * the stream parsed in fuzzer-chosen segments (through both Append and
//    PrepareAppend/CommitAppend) gives exactly the frames and the error of a one-shot parse;
//  * every frame respects the limit and re-encodes to bytes that parse back to the same frame;
//  * errors are sticky and offsets never pass the input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/frame.h"

namespace {

struct Parsed {
  std::vector<std::string> frames;  // canonical re-encoding of each frame
  std::string error;                // empty when the input ended without an error
  uint64_t offset = 0;
};

std::string Canonical(const drpc::Frame& frame) {
  std::string out;
  drpc::AppendFrame(out, frame);
  DRPC_CHECK_EQ(out.size(), drpc::FrameSize(frame));
  return out;
}

// Drains the parser; returns false once it reported an error.
bool Drain(drpc::FrameParser& parser, size_t max, Parsed& out) {
  for (;;) {
    absl::StatusOr<std::optional<drpc::Frame>> f = parser.Next();
    if (!f.ok()) {
      out.error = std::string(f.status().message());
      DRPC_CHECK(!parser.Next().ok()) << "errors are sticky";
      return false;
    }
    if (!f->has_value()) return true;
    const drpc::Frame& frame = **f;
    DRPC_CHECK_LE(frame.data.size(), max);
    const std::string enc = Canonical(frame);
    size_t consumed = 0;
    auto again = drpc::ParseFrame(enc, max, &consumed);
    DRPC_CHECK(again.ok() && again->has_value() && consumed == enc.size());
    DRPC_CHECK(Canonical(**again) == enc);
    out.frames.push_back(enc);
  }
}

Parsed Segmented(absl::string_view stream, size_t max, uint32_t seed) {
  drpc::FrameParser parser(drpc::FrameParser::Options{.frame_data_max_bytes = max});
  Parsed out;
  size_t pos = 0;
  bool live = true;
  while (live && pos < stream.size()) {
    seed = seed * 1103515245u + 12345u;  // segment sizes from a tiny LCG: 1..32 bytes
    const size_t n = std::min<size_t>(1 + ((seed >> 16) % 32), stream.size() - pos);
    if (seed & 0x100) {
      char* dst = parser.PrepareAppend(n + 3);
      std::memcpy(dst, stream.data() + pos, n);
      parser.CommitAppend(n);
    } else {
      parser.Append(stream.substr(pos, n));
    }
    pos += n;
    live = Drain(parser, max, out);
  }
  DRPC_CHECK_LE(parser.offset() + parser.buffered_bytes(), stream.size());
  out.offset = parser.offset();
  return out;
}

Parsed OneShot(absl::string_view stream, size_t max) {
  drpc::FrameParser parser(drpc::FrameParser::Options{.frame_data_max_bytes = max});
  parser.Append(stream);
  Parsed out;
  Drain(parser, max, out);
  out.offset = parser.offset();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max = size_t{1} << (data[0] % 23);  // 1 B .. 4 MiB
  const uint32_t seed = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Parsed whole = OneShot(stream, max);
  const Parsed pieces = Segmented(stream, max, seed);
  DRPC_CHECK(whole.frames == pieces.frames) << "segmentation changed the frames";
  DRPC_CHECK_EQ(whole.error, pieces.error);
  DRPC_CHECK_EQ(whole.offset, pieces.offset);
  return 0;
}
