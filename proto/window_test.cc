// WindowUpdate bodies (docs/protocol.md §11.7, §17).
#include "proto/window.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/splitter.h"
#include "proto/test_frames.h"
#include "proto/varint.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::string ErrorOf(absl::string_view body) {
  absl::StatusOr<uint64_t> d = DecodeWindowUpdate(body);
  EXPECT_FALSE(d.ok());
  return d.ok() ? "" : std::string(d.status().message());
}

TEST(WindowUpdateTest, BodyIsOneVarintDelta) {
  EXPECT_EQ(Hex(EncodeWindowUpdate(65536)), "80 80 04");
  EXPECT_EQ(*DecodeWindowUpdate(Bytes("80 80 04")), 65536u);
  EXPECT_EQ(*DecodeWindowUpdate(EncodeWindowUpdate(UINT64_MAX)), UINT64_MAX);
}

TEST(WindowUpdateTest, FrameIsControlDoneKindEight) {
  std::string wire;
  AppendPacket(wire, {3, 0}, Kind::kWindowUpdate, EncodeWindowUpdate(1), true,
               limits::kSplitDefaultBytes);
  EXPECT_EQ(Hex(wire), "91 03 00 01 01");
}

TEST(WindowUpdateTest, ZeroDeltaIsRejected) {
  EXPECT_THAT(ErrorOf(Bytes("00")), HasSubstr("zero delta"));
}

TEST(WindowUpdateTest, TrailingBytesAreRejected) {
  EXPECT_THAT(ErrorOf(Bytes("01 00")), HasSubstr("1 trailing bytes"));
}

TEST(WindowUpdateTest, EmptyOrTruncatedBodyIsRejected) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty body"));
  EXPECT_THAT(ErrorOf(Bytes("80")), HasSubstr("truncated varint"));
  EXPECT_THAT(ErrorOf(Bytes("ff ff ff ff ff ff ff ff ff ff")), HasSubstr("varint too long"));
}

TEST(WindowUpdateTest, AnyPositiveDeltaIsAccepted) {
  // The receiver's credit saturates (impl/mux_writer.h); the body itself has no upper bound.
  std::string body;
  AppendVarint(body, (uint64_t{1} << 40) + 7);
  EXPECT_EQ(*DecodeWindowUpdate(body), (uint64_t{1} << 40) + 7);
}

}  // namespace
}  // namespace drpc
