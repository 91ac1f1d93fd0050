// Round-trip properties of the encoders and decoders (rapidcheck; a failure prints the
// counterexample and a reproduce string for RC_PARAMS="reproduce=...").
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "properties/generators.h"
#include "proto/frame.h"
#include "proto/metadata.h"
#include "proto/splitter.h"
#include "proto/test_frames.h"
#include "proto/varint.h"
#include "gtest/gtest.h"
#include "rapidcheck/gtest.h"

namespace drpc::properties {
namespace {

using ::drpc::testing::OwnedFrame;

RC_GTEST_PROP(VarintProperties, RoundTripConsumesExactlyTheMinimalEncoding, ()) {
  const uint64_t v = *GenU64();
  std::string enc;
  const size_t n = AppendVarint(enc, v);
  const size_t bitlen = v == 0 ? 0 : 64 - __builtin_clzll(v);
  RC_ASSERT(n == enc.size());
  RC_ASSERT(n == (9 * bitlen + 64) / 64);
  RC_ASSERT(VarintSize(v) == n);
  uint64_t back = 0;
  size_t consumed = 0;
  RC_ASSERT(DecodeVarint(enc + "\x01\x02", &back, &consumed) == VarintStatus::kOk);
  RC_ASSERT(back == v);
  RC_ASSERT(consumed == n);
}

RC_GTEST_PROP(VarintProperties, NonMinimalPaddingDecodesToTheSameValue, ()) {
  const uint64_t v = *GenU64();
  std::string enc;
  AppendVarint(enc, v);
  const size_t pad = *rc::gen::inRange<size_t>(0, limits::kVarintMaxBytes - enc.size() + 1);
  // Padding: set the continuation bit on the last byte, then zero groups, the last one final.
  if (pad > 0) {
    enc.back() = static_cast<char>(enc.back() | 0x80);
    enc.append(pad - 1, '\x80');
    enc.push_back('\x00');
  }
  uint64_t back = 0;
  size_t consumed = 0;
  RC_ASSERT(DecodeVarint(enc, &back, &consumed) == VarintStatus::kOk);
  RC_ASSERT(back == v);
  RC_ASSERT(consumed == enc.size());
}

RC_GTEST_PROP(FrameProperties, EncodeThenParseUnderArbitrarySegmentationIsIdentity, ()) {
  const auto frames = *rc::gen::container<std::vector<OwnedFrame>>(GenFrame());
  std::string wire;
  for (const OwnedFrame& f : frames) AppendFrame(wire, f.view());
  const auto reads = *GenSegmentation(wire.size());
  FrameParser parser(FrameParser::Options{});
  std::vector<OwnedFrame> parsed;
  size_t pos = 0;
  for (size_t n : reads) {
    parser.Append(absl::string_view(wire).substr(pos, n));
    pos += n;
    for (;;) {
      auto f = parser.Next();
      RC_ASSERT(f.ok());
      if (!f->has_value()) break;
      parsed.push_back(testing::Own(**f));
    }
  }
  RC_ASSERT(parsed == frames);
  RC_ASSERT(parser.buffered_bytes() == 0u);
  RC_ASSERT(parser.offset() == wire.size());
}

RC_GTEST_PROP(FrameProperties, FrameSizeIsTheEncodedSize, ()) {
  const OwnedFrame f = *GenFrame();
  std::string wire;
  AppendFrame(wire, f.view());
  RC_ASSERT(FrameSize(f.view()) == wire.size());
}

// --- The encoders' and the parser's fast paths against the spec (docs/protocol.md §2, §4.1) ---
// Frames whose varints are one or two bytes take inline paths (ParseCommonFrame, the one-frame
// AppendPacket); these references, written from the spec with nothing shared, must agree with
// whatever path the code takes, on every input.

// LEB128, minimal form.
std::string Leb128(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
  out.push_back(static_cast<char>(v));
  return out;
}

std::string ReferenceFrame(PacketId id, Kind kind, bool done, bool control,
                           absl::string_view data) {
  const int header = (control ? 0x80 : 0) | (static_cast<int>(kind) << 1) | (done ? 1 : 0);
  return std::string(1, static_cast<char>(header)) + Leb128(id.stream) + Leb128(id.message) +
         Leb128(data.size()) + std::string(data);
}

// A varint field as a peer may send it: minimal, padded to a longer form, or any bytes at all
// (too long, or cut short by the end of the input).
rc::Gen<std::string> GenVarintField() {
  return rc::gen::oneOf(
      rc::gen::map(GenU64(), Leb128),
      rc::gen::map(rc::gen::pair(GenU64(), rc::gen::inRange<size_t>(1, 10)),
                   [](const std::pair<uint64_t, size_t>& p) {
                     std::string enc = Leb128(p.first);
                     if (enc.size() >= limits::kVarintMaxBytes) return enc;
                     const size_t pad = std::min(p.second, limits::kVarintMaxBytes - enc.size());
                     enc.back() = static_cast<char>(enc.back() | 0x80);
                     enc.append(pad - 1, '\x80');
                     enc.push_back('\x00');
                     return enc;
                   }),
      rc::gen::container<std::string>(rc::gen::arbitrary<char>()),
      rc::gen::just(std::string(limits::kVarintMaxBytes, '\xFF')));
}

// ParseFrame's contract, decoded field by field with DecodeVarint.
struct ReferenceParse {
  std::optional<testing::OwnedFrame> frame;  // set when a whole frame is there
  size_t consumed = 0;
  std::string error_start;  // non-empty when the input is an error
};

ReferenceParse ReferenceParseFrame(absl::string_view in, size_t max) {
  ReferenceParse r;
  if (in.empty()) return r;
  const auto header = static_cast<uint8_t>(in[0]);
  uint64_t fields[3] = {};
  size_t pos = 1;
  for (uint64_t& field : fields) {
    size_t n = 0;
    switch (DecodeVarint(in.substr(pos), &field, &n)) {
      case VarintStatus::kIncomplete:
        return r;
      case VarintStatus::kTooLong:
        r.error_start = "protocol error: varint too long";
        return r;
      case VarintStatus::kOk:
        pos += n;
    }
  }
  if (fields[2] > max) {
    r.error_start = "protocol error: data overflow";
    return r;
  }
  if (fields[2] > in.size() - pos) return r;
  r.frame = testing::OwnedFrame{.id = {fields[0], fields[1]},
                                .kind = static_cast<Kind>((header >> 1) & 0x3F),
                                .done = (header & 1) != 0,
                                .control = (header & 0x80) != 0,
                                .data = std::string(in.substr(pos, fields[2]))};
  r.consumed = pos + fields[2];
  return r;
}

RC_GTEST_PROP(FrameProperties, ParseFrameAgreesWithTheSpecOnAnyHeader, ()) {
  std::string in(1, *rc::gen::arbitrary<char>());
  for (int i = 0; i < 3; ++i) in += *GenVarintField();
  in += *GenData(300);
  in.resize(*rc::gen::inRange<size_t>(0, in.size() + 1));  // any prefix, the whole input too
  const size_t max = *rc::gen::element<size_t>(0, 1, 127, 128, 300, 16383, 16384,
                                               limits::kPacketDefaultMaxBytes);
  const ReferenceParse want = ReferenceParseFrame(in, max);
  size_t consumed = 0;
  const auto got = ParseFrame(in, max, &consumed);
  // The incremental parser, given the same bytes at once, says exactly the same.
  FrameParser parser(FrameParser::Options{.frame_data_max_bytes = max});
  parser.Append(in);
  const auto next = parser.Next();
  if (!want.error_start.empty()) {
    RC_ASSERT(!got.ok());
    RC_ASSERT(absl::StartsWith(got.status().message(), want.error_start));
    RC_ASSERT(!next.ok());
    RC_ASSERT(next.status() == got.status());
    return;
  }
  RC_ASSERT(got.ok());
  RC_ASSERT(next.ok());
  RC_ASSERT(got->has_value() == want.frame.has_value());
  RC_ASSERT(next->has_value() == want.frame.has_value());
  if (!want.frame.has_value()) return;
  RC_ASSERT(testing::Own(**got) == *want.frame);
  RC_ASSERT(testing::Own(**next) == *want.frame);
  RC_ASSERT(consumed == want.consumed);
  RC_ASSERT(parser.offset() == want.consumed);
}

RC_GTEST_PROP(FrameProperties, AppendPacketWritesTheSpecsFrames, ()) {
  const PacketId id{*GenU64(), *GenU64()};
  const auto kind = static_cast<Kind>(*rc::gen::inRange<int>(0, kKindMaxValue + 1));
  const bool control = *rc::gen::arbitrary<bool>();
  const std::string data = *GenData(300);
  const size_t split = *rc::gen::oneOf(rc::gen::inRange<size_t>(limits::kSplitMinBytes, 9),
                                       rc::gen::inRange<size_t>(1, 400),
                                       rc::gen::just(limits::kSplitDefaultBytes));
  const std::string prefix = *GenData(20);
  std::string want = prefix;
  if (!IsSplittableKind(kind) || data.size() <= split) {
    want += ReferenceFrame(id, kind, true, control, data);
  } else {
    for (size_t at = 0; at < data.size(); at += split) {
      const size_t n = std::min(split, data.size() - at);
      want += ReferenceFrame(id, kind, at + n == data.size(), control, data.substr(at, n));
    }
  }
  std::string whole = prefix;
  AppendPacket(whole, id, kind, data, control, split);
  RC_ASSERT(whole == want);
  RC_ASSERT(PacketWireSize(id, kind, data.size(), split) == want.size() - prefix.size());
  std::string frames = prefix;
  PacketSplitter splitter(id, kind, data, control, split);
  while (!splitter.done()) splitter.AppendNextFrame(frames);
  RC_ASSERT(frames == want);
}

RC_GTEST_PROP(MetadataProperties, EncodeThenDecodeIsIdentity, ()) {
  const auto md = *rc::gen::container<Metadata>(rc::gen::container<std::string>(
                                                    rc::gen::arbitrary<char>()),
                                                GenData(200));
  const std::string body = EncodeMetadata(md);
  auto back = DecodeMetadata(body);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == md);
  RC_ASSERT(md.empty() == body.empty());
}

RC_GTEST_PROP(MetadataProperties, EveryProperPrefixOfAnEncodingIsRejectedOrShorter, ()) {
  // Truncating a body never yields the original map: either an error, or (cut on an entry
  // boundary) fewer entries. Guards against lengths being read past an entry's end.
  const auto md = *rc::gen::container<Metadata>(
      rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::arbitrary<char>())),
      GenData(50));
  RC_PRE(!md.empty());
  const std::string body = EncodeMetadata(md);
  const size_t cut = *rc::gen::inRange<size_t>(0, body.size());
  auto back = DecodeMetadata(absl::string_view(body).substr(0, cut));
  RC_ASSERT((!back.ok() || back->size() < md.size()));
}

}  // namespace
}  // namespace drpc::properties
