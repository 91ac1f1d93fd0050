// Fuzzes the incremental FrameParser. Input: byte 0 picks the frame data limit, byte 1 seeds the
// segmentation, the rest is the byte stream. Checks, for every input:
//  * the stream parsed in fuzzer-chosen segments (through both Append and
//    PrepareAppend/CommitAppend) gives exactly the frames (fields, position in the stream, data
//    bytes) and the error of a one-shot parse;
//  * every frame respects the limit and re-encodes to bytes that parse back to the same frame;
//  * errors are sticky and offsets never pass the input;
//  * a partial frame taken out of the parser (TakePartial) with the rest of its data read from the
//    stream directly, as the connection's reader does for large frames, is the same frame too.
// Speed: the work per input is linear in its frames, and the one-shot parse's records are kept in
// buffers reused across inputs, so an input allocates nothing once the buffers have grown.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuzz/no_coverage.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/limits.h"

namespace {

// A frame by its fields and where its data lies in the stream: two parses of one stream that
// agree on these returned the same bytes.
struct Record {
  uint64_t stream;
  uint64_t message;
  uint64_t data_offset;
  uint64_t data_bytes;
  drpc::Kind kind;
  bool done;
  bool control;
  bool operator==(const Record&) const = default;
};

struct Parsed {
  std::vector<Record> frames;
  std::string error;  // empty when the input ended without an error
  uint64_t offset = 0;
};

// The frame's record, after checking its data is the stream's bytes at the place the parser's
// offset says.
DRPC_FUZZ_NO_COVERAGE
Record Check(const drpc::Frame& f, absl::string_view stream, uint64_t end_offset, size_t max) {
  DRPC_CHECK_LE(f.data.size(), max);
  const uint64_t data_offset = end_offset - f.data.size();
  DRPC_CHECK_LE(end_offset, stream.size());
  DRPC_CHECK(std::memcmp(f.data.data(), stream.data() + data_offset, f.data.size()) == 0)
      << "frame data differs from the stream's bytes";
  return Record{f.id.stream, f.id.message, data_offset, f.data.size(), f.kind, f.done, f.control};
}

// Canonical re-encoding parses back to the same frame. `original` is the frame's bytes in the
// stream: when the re-encoded header equals its header (the data is the stream's, Check saw to
// that), the re-encoding is those very bytes, which parsed to `f` already — no second parse.
DRPC_FUZZ_NO_COVERAGE
void CheckRoundTrip(const drpc::Frame& f, absl::string_view original, size_t max,
                    std::string& scratch) {
  char header[drpc::limits::kFrameHeaderMaxBytes];
  const size_t n = drpc::EncodeFrameHeader(f.id, f.kind, f.done, f.control, f.data.size(), header);
  DRPC_CHECK_EQ(n + f.data.size(), drpc::FrameSize(f));
  if (original.size() == n + f.data.size() && std::memcmp(original.data(), header, n) == 0) return;
  scratch.clear();
  drpc::AppendFrame(scratch, f);
  DRPC_CHECK_EQ(scratch.size(), drpc::FrameSize(f));
  size_t consumed = 0;
  auto again = drpc::ParseFrame(scratch, max, &consumed);
  DRPC_CHECK(again.ok() && again->has_value() && consumed == scratch.size());
  const drpc::Frame& g = **again;
  DRPC_CHECK(g.id == f.id && g.kind == f.kind && g.done == f.done && g.control == f.control &&
             g.data == f.data)
      << "re-encoding changed the frame";
}

// Drains the parser into `out` (one-shot: every frame round-trips) or compares with `expect`
// (segmented: frame i must be expect's frame i); returns false once the parser reported an error.
DRPC_FUZZ_NO_COVERAGE
bool Drain(drpc::FrameParser& parser, absl::string_view stream, size_t max, Parsed& out,
           const Parsed* expect, std::string& scratch) {
  for (;;) {
    const uint64_t start = parser.offset();
    absl::StatusOr<std::optional<drpc::Frame>> f = parser.Next();
    if (!f.ok()) {
      const absl::string_view message = f.status().message();
      out.error.assign(message.data(), message.size());  // reuses the buffer's capacity
      DRPC_CHECK(!parser.Next().ok()) << "errors are sticky";
      return false;
    }
    if (!f->has_value()) return true;
    const Record r = Check(**f, stream, parser.offset(), max);
    if (expect == nullptr) {
      CheckRoundTrip(**f, stream.substr(start, parser.offset() - start), max, scratch);
      out.frames.push_back(r);
    } else {
      const size_t i = out.frames.size();
      DRPC_CHECK(i < expect->frames.size() && expect->frames[i] == r)
          << "segmentation changed frame " << i;
      out.frames.push_back(r);
    }
  }
}

DRPC_FUZZ_NO_COVERAGE
void OneShot(absl::string_view stream, size_t max, Parsed& out, std::string& scratch) {
  drpc::FrameParser parser(drpc::FrameParser::Options{.frame_data_max_bytes = max});
  parser.Append(stream);
  Drain(parser, stream, max, out, nullptr, scratch);
  out.offset = parser.offset();
}

// Takes the parser's partial frame, if any, and reads the rest of its data from the stream at
// `pos` itself (unless the stream ends first); the frame must be the one-shot parse's next.
DRPC_FUZZ_NO_COVERAGE
void TakeDirect(drpc::FrameParser& parser, absl::string_view stream, size_t max, size_t& pos,
                const Parsed& expect, Parsed& out) {
  const std::optional<drpc::FrameParser::PartialFrame> partial = parser.partial();
  if (!partial.has_value()) return;
  DRPC_CHECK_LT(partial->buffered_bytes, partial->data_bytes);
  DRPC_CHECK_LE(partial->data_bytes, max);
  const size_t rest = partial->data_bytes - partial->buffered_bytes;
  if (stream.size() - pos < rest) return;  // the stream ends inside it: parsed as usual
  static std::string* data = new std::string;
  data->assign(partial->data_bytes, '\0');
  parser.TakePartial(data->data());
  DRPC_CHECK_EQ(parser.buffered_bytes(), 0u);
  std::memcpy(data->data() + partial->buffered_bytes, stream.data() + pos, rest);
  pos += rest;
  drpc::Frame f = partial->head;
  f.data = *data;
  const Record r = Check(f, stream, parser.offset(), max);
  const size_t i = out.frames.size();
  DRPC_CHECK(i < expect.frames.size() && expect.frames[i] == r)
      << "a frame taken partially differs from frame " << i;
  out.frames.push_back(r);
}

DRPC_FUZZ_NO_COVERAGE
void Segmented(absl::string_view stream, size_t max, uint32_t seed, const Parsed& expect,
               Parsed& out, std::string& scratch) {
  drpc::FrameParser parser(drpc::FrameParser::Options{.frame_data_max_bytes = max});
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
    live = Drain(parser, stream, max, out, &expect, scratch);
    if (live && (seed & 0x200) != 0) TakeDirect(parser, stream, max, pos, expect, out);
  }
  DRPC_CHECK_LE(parser.offset() + parser.buffered_bytes(), stream.size());
  out.offset = parser.offset();
}

}  // namespace

DRPC_FUZZ_NO_COVERAGE
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max = size_t{1} << (data[0] % 23);  // 1 B .. 4 MiB
  const uint32_t seed = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  // Reused across inputs (libFuzzer runs one input at a time).
  static Parsed* whole = new Parsed;
  static Parsed* pieces = new Parsed;
  static std::string* scratch = new std::string;
  whole->frames.clear();
  whole->error.clear();
  pieces->frames.clear();
  pieces->error.clear();
  OneShot(stream, max, *whole, *scratch);
  Segmented(stream, max, seed, *whole, *pieces, *scratch);
  DRPC_CHECK_EQ(whole->frames.size(), pieces->frames.size()) << "segmentation lost frames";
  DRPC_CHECK(whole->error == pieces->error) << whole->error << " vs. " << pieces->error;
  DRPC_CHECK_EQ(whole->offset, pieces->offset);
  return 0;
}
