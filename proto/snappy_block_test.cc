// The Snappy block format through libsnappy: golden bytes, bounded decoding.
#include "proto/snappy_block.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

TEST(SnappyBlockTest, ShortInputIsOneLiteral) {
  EXPECT_EQ(Hex(SnappyEncodeBlock("hello")), "05 10 68 65 6c 6c 6f");
  EXPECT_EQ(Hex(SnappyEncodeBlock("")), "00");
}

TEST(SnappyBlockTest, RoundTripsAndCompresses) {
  const std::string in(200000, 'w');
  const std::string block = SnappyEncodeBlock(in);
  EXPECT_LT(block.size(), 20000u);
  std::string out;
  ASSERT_TRUE(SnappyDecodeBlock(block, in.size(), &out).ok());
  EXPECT_EQ(out, in);
  EXPECT_EQ(*SnappyDecodedLength(block), in.size());
}

TEST(SnappyBlockTest, DecodesACopyElement) {
  // "abcd" then a 1-byte-offset copy (offset 4, length 4): "abcdabcd".
  std::string out;
  ASSERT_TRUE(SnappyDecodeBlock(Bytes("08 0c 61 62 63 64 01 04"), 8, &out).ok());
  EXPECT_EQ(out, "abcdabcd");
}

TEST(SnappyBlockTest, StatedLengthBeyondTheLimitAllocatesNothing) {
  std::string out;
  absl::Status s = SnappyDecodeBlock(Bytes("ff ff ff ff 0f 00"), 64 * limits::kMiB, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("decompresses to 4294967295 bytes"));
  EXPECT_EQ(out.capacity(), std::string().capacity());
  // One byte over the limit is already too much.
  EXPECT_EQ(SnappyDecodeBlock(SnappyEncodeBlock("hello"), 4, &out).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(SnappyBlockTest, MalformedBlocksAreRejected) {
  std::string out;
  EXPECT_THAT(SnappyDecodeBlock("", 10, &out).message(), HasSubstr("no valid uncompressed length"));
  EXPECT_THAT(SnappyDecodeBlock(Bytes("ff ff ff ff ff 01"), 10, &out).message(),
              HasSubstr("no valid uncompressed length"));
  EXPECT_THAT(SnappyDecodeBlock(Bytes("05 10 68 65"), 10, &out).message(), HasSubstr("corrupt"));
  EXPECT_THAT(SnappyDecodeBlock(Bytes("04 01 08"), 10, &out).message(), HasSubstr("corrupt"));
}

}  // namespace
}  // namespace drpc
