// Round-trip properties of the encoders and decoders (rapidcheck; a failure prints the
// counterexample and a reproduce string for RC_PARAMS="reproduce=...").
#include <string>
#include <vector>

#include "properties/generators.h"
#include "proto/frame.h"
#include "proto/metadata.h"
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
