// The minimal protobuf wire reader/writer behind the mux fork's Error bodies.
#include "proto/protobuf_wire.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/test_frames.h"

namespace drpc::pb {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::vector<Field> ReadAll(absl::string_view in) {
  std::vector<Field> fields;
  Reader r(in);
  Field f;
  while (r.Next(&f)) fields.push_back(f);
  EXPECT_TRUE(r.status().ok()) << r.status();
  return fields;
}

std::string ErrorOf(absl::string_view in) {
  Reader r(in);
  Field f;
  while (r.Next(&f)) {
  }
  return r.status().ok() ? "no error" : std::string(r.status().message());
}

TEST(ProtobufWireTest, WritesTagsVarintsAndLengthDelimitedFields) {
  std::string out;
  AppendVarintField(out, 1, 2);
  AppendLenField(out, 2, "boom");
  AppendVarintField(out, 16, 300);
  EXPECT_EQ(Hex(out), "08 02 12 04 62 6f 6f 6d 80 01 ac 02");
}

TEST(ProtobufWireTest, ReadsBackWhatItWrites) {
  std::string out;
  AppendVarintField(out, 1, UINT64_MAX);
  AppendLenField(out, 3, "xyz");
  const std::vector<Field> f = ReadAll(out);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].number, 1u);
  EXPECT_EQ(f[0].varint, UINT64_MAX);
  EXPECT_EQ(f[1].type, WireType::kLen);
  EXPECT_EQ(f[1].bytes, "xyz");
  EXPECT_EQ(f[1].offset, 11u);
}

TEST(ProtobufWireTest, ReadsFixedWidthFieldsLittleEndian) {
  const std::vector<Field> f = ReadAll(Bytes("09 01 02 03 04 05 06 07 08 15 0a 0b 0c 0d"));
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].varint, 0x0807060504030201u);
  EXPECT_EQ(f[1].type, WireType::kFixed32);
  EXPECT_EQ(f[1].varint, 0x0d0c0b0au);
}

TEST(ProtobufWireTest, LengthBeyondTheInputIsRejected) {
  EXPECT_THAT(ErrorOf(Bytes("12 05 61 62")), HasSubstr("has length 5 but only 2 bytes follow"));
}

TEST(ProtobufWireTest, TruncatedOrOverlongVarintsAreRejected) {
  EXPECT_THAT(ErrorOf(Bytes("08 80")), HasSubstr("truncated varint at offset 1"));
  EXPECT_THAT(ErrorOf(Bytes("08 ff ff ff ff ff ff ff ff ff 02")), HasSubstr("overflows 64 bits"));
  EXPECT_EQ(ErrorOf(Bytes("08 ff ff ff ff ff ff ff ff ff 01")), "no error");
  EXPECT_THAT(ErrorOf(Bytes("80")), HasSubstr("truncated tag"));
}

TEST(ProtobufWireTest, FieldNumberZeroIsRejected) {
  EXPECT_THAT(ErrorOf(Bytes("00 01")), HasSubstr("invalid field number 0"));
}

TEST(ProtobufWireTest, GroupsAndInvalidWireTypesAreRejected) {
  EXPECT_THAT(ErrorOf(Bytes("0b 0c")), HasSubstr("group wire type 3"));
  EXPECT_THAT(ErrorOf(Bytes("0e")), HasSubstr("invalid wire type 6"));
  EXPECT_THAT(ErrorOf(Bytes("0f")), HasSubstr("invalid wire type 7"));
}

TEST(ProtobufWireTest, ErrorsAreSticky) {
  const std::string in = Bytes("00 08 01");  // the Reader views it: it must outlive the Reader
  Reader r(in);
  Field f;
  EXPECT_FALSE(r.Next(&f));
  EXPECT_FALSE(r.status().ok());
  EXPECT_FALSE(r.Next(&f));
  EXPECT_FALSE(r.status().ok());
}

TEST(ProtobufWireTest, Utf8ValidationFollowsTheUnicodeTable) {
  EXPECT_TRUE(IsValidUtf8("boom \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(ProtobufWireTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(ToValidUtf8("a\xFF" "b\xE2\x82"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8("\xE2\x82\xAC"), "\xE2\x82\xAC");
}

}  // namespace
}  // namespace drpc::pb
