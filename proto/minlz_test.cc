// The MinLZ block format (MinLZ specification v1.0, block format): every element kind decoded from
// hand-assembled blocks, the encoder's output decoding back, and hostile blocks rejected.
#include "proto/minlz.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/snappy_block.h"
#include "proto/test_frames.h"
#include "proto/varint.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::string Decode(absl::string_view block, size_t max_bytes = limits::kMinLzBlockMaxBytes) {
  std::string out;
  absl::Status s = MinLzDecodeBlock(block, max_bytes, &out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::string ErrorOf(absl::string_view block, size_t max_bytes = limits::kMinLzBlockMaxBytes) {
  std::string out = "untouched";
  absl::Status s = MinLzDecodeBlock(block, max_bytes, &out);
  EXPECT_FALSE(s.ok());
  return std::string(s.message());
}

// Pseudo-random bytes that do not compress (a fixed LCG: tests are deterministic).
std::string Noise(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  for (char& c : s) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return s;
}

TEST(MinLzTest, EmptyAndStoredBlocks) {
  EXPECT_EQ(Decode(Bytes("00")), "");
  EXPECT_EQ(Decode(Bytes("00 00 61 62 63")), "abc");  // length 0: the rest is the content
  EXPECT_EQ(Hex(MinLzEncodeBlock("")), "00");
}

TEST(MinLzTest, LiteralThenCopy1MakesTheSpecExample) {
  // <literal "xab"> <copy offset=2 length=4> = "xababab" (MinLZ specification, 2.2).
  EXPECT_EQ(Decode(Bytes("00 07 10 78 61 62 41 00")), "xababab");
}

TEST(MinLzTest, RepeatAtTheStartUsesOffsetOne) {
  // <literal "x"> <repeat length=4> = "xxxxx" (MinLZ specification, 2.2).
  EXPECT_EQ(Decode(Bytes("00 05 00 78 1c")), "xxxxx");
}

TEST(MinLzTest, LongLiteralLengthsUseExtraBytes) {
  const std::string text(300, 'q');
  // Literal of 300: tag value 30 (two bytes of 300 - 30 = 270 = 0e 01), then a repeat of 10 at
  // offset 1 (the compressed bytes may not outnumber the decoded ones).
  std::string block = Bytes("00");
  AppendVarint(block, 310);
  block += Bytes("f0 0e 01") + text + Bytes("4c");
  EXPECT_EQ(Decode(block), text + std::string(10, 'q'));
}

TEST(MinLzTest, Copy1WithExtendedLength) {
  // "ab" then copy offset 2, length 18 + 2 = 20 (field 15, extra byte 2).
  std::string want;
  for (int i = 0; i < 11; ++i) want += "ab";
  EXPECT_EQ(Decode(Bytes("00 16 08 61 62 7d 00 02")), want);
}

TEST(MinLzTest, Copy2AndFusedCopy2) {
  const std::string head = Noise(64);
  // Copy2: offset 64 (stored 0), length 8 (field 4): tag 0x12.
  std::string block = Bytes("00");
  AppendVarint(block, 72);
  block += Bytes("e8 22") + head + Bytes("12 00 00");
  EXPECT_EQ(Decode(block), head + head.substr(0, 8));
  // Fused Copy2: 2 literals "zz", then copy offset 64 + 2... offset counts after the literals.
  std::string fused = Bytes("00");
  AppendVarint(fused, 64 + 2 + 5);
  // tag: 3 | copy3=0 | (2-1)<<3 | (5-4)<<5 = 0x2b; offset 66 - 64 = 2.
  fused += Bytes("e8 22") + head + Bytes("2b 02 00") + "zz";
  EXPECT_EQ(Decode(fused), head + "zz" + head.substr(0, 5));
}

TEST(MinLzTest, Copy3WithFusedLiteralsAndExtendedLength) {
  const std::string head = Noise(70000);
  std::string block = Bytes("00");
  AppendVarint(block, 70000 + 3 + 100);
  // Literal of 70000: tag value 31, three bytes of 69970.
  block += Bytes("f8");
  block.push_back(static_cast<char>(69970 & 0xff));
  block.push_back(static_cast<char>((69970 >> 8) & 0xff));
  block.push_back(static_cast<char>(69970 >> 16));
  block += head;
  // Copy3: 3 fused literals, length field 61 (one byte: 100 - 64 = 36), offset 70003 - 65536.
  const uint32_t word = ((70003 - 65536) << 11) | (61 << 5) | (3 << 3) | 4 | 3;
  for (int i = 0; i < 4; ++i) block.push_back(static_cast<char>(word >> (8 * i)));
  block += Bytes("24") + "LIT";
  EXPECT_EQ(Decode(block), head + "LIT" + head.substr(0, 100));
}

TEST(MinLzTest, NonZeroFirstByteIsASnappyBlock) {
  EXPECT_EQ(Decode(Bytes("05 10 68 65 6c 6c 6f")), "hello");
  EXPECT_EQ(Decode(SnappyEncodeBlock(std::string(100000, 'z')), 1 << 20),
            std::string(100000, 'z'));
}

TEST(MinLzTest, EncoderOutputDecodesForEveryShape) {
  for (const std::string& in :
       {std::string("a"), std::string(5000, 'a'), Noise(9000), Noise(5000) + Noise(5000),
        std::string(3 * limits::kMiB, 'r') + Noise(70000) + Noise(70000)}) {
    const std::string block = MinLzEncodeBlock(in);
    EXPECT_EQ(block[0], '\0');
    EXPECT_EQ(Decode(block), in) << in.size();
  }
}

TEST(MinLzTest, EncoderCompressesRepetitiveData) {
  std::string in;
  for (int i = 0; i < 2000; ++i) in += "drpc message number " + std::to_string(i % 50) + "; ";
  EXPECT_LT(MinLzEncodeBlock(in).size(), in.size() / 4);
}

TEST(MinLzTest, IncompressibleDataIsStoredNeverLarger) {
  const std::string in = Noise(10000);
  const std::string block = MinLzEncodeBlock(in);
  EXPECT_EQ(Hex(block.substr(0, 2)), "00 00");
  EXPECT_EQ(block.size(), in.size() + 2);
}

TEST(MinLzTest, StatedLengthBeyondTheLimitAllocatesNothing) {
  std::string bomb = Bytes("00");
  AppendVarint(bomb, limits::kMinLzBlockMaxBytes);
  bomb += Bytes("00 78") + Bytes("fc ff ff ff");  // "x", then a repeat of 2^24 + 29 bytes
  std::string out;
  absl::Status s = MinLzDecodeBlock(bomb, limits::kMiB, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("decompresses to 8388608 bytes"));
  EXPECT_EQ(out.capacity(), std::string().capacity());
  std::string snappy_bomb = Bytes("ff ff ff ff 0f 00");
  EXPECT_EQ(MinLzDecodeBlock(snappy_bomb, limits::kMiB, &out).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(MinLzTest, MalformedBlocksAreRejected) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty block"));
  EXPECT_THAT(ErrorOf(Bytes("00 81 80 80 04 00")), HasSubstr("exceeds the block limit"));
  EXPECT_THAT(ErrorOf(Bytes("00 80")), HasSubstr("invalid uncompressed length"));
  EXPECT_THAT(ErrorOf(Bytes("00 05")), HasSubstr("no data after"));
  EXPECT_THAT(ErrorOf(Bytes("00 02 10 61 62 63")), HasSubstr("compressed bytes for"));
  EXPECT_THAT(ErrorOf(Bytes("00 05 10 61 62")), HasSubstr("literals truncated"));
  EXPECT_THAT(ErrorOf(Bytes("00 04 1c 00 00")), HasSubstr("reaches before the start"));
  EXPECT_THAT(ErrorOf(Bytes("00 05 00 78 24")), HasSubstr("exceeds the length 5"));
  EXPECT_THAT(ErrorOf(Bytes("00 09 10 61 62 63")),
              HasSubstr("decoded 3 bytes, the block states 9"));
  EXPECT_THAT(ErrorOf(Bytes("00 09 00 61 07 00")), HasSubstr("copy3 truncated"));
  EXPECT_THAT(ErrorOf(Bytes("00 09 00 61 02 00")), HasSubstr("copy2 truncated"));
  EXPECT_THAT(ErrorOf(Bytes("00 09 00 61 3d 00")), HasSubstr("copy1 length truncated"));
  EXPECT_THAT(ErrorOf(Bytes("03 01 02")), HasSubstr("snappy: corrupt"));
}

TEST(MinLzTest, DecodedLengthReadsOnlyTheHeader) {
  EXPECT_EQ(*MinLzDecodedLength(Bytes("00 07 10 78 61 62 41 00")), 7u);
  EXPECT_EQ(*MinLzDecodedLength(Bytes("00 00 61 62")), 2u);
  EXPECT_EQ(*MinLzDecodedLength(Bytes("05 10 68")), 5u);
}

}  // namespace
}  // namespace drpc
