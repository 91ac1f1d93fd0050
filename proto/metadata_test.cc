// InvokeMetadata bodies (docs/protocol.md §5.2; drpcmetadata tests §12.5; E12).
#include "proto/metadata.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::string Entry(absl::string_view k, absl::string_view v) {
  std::string out;
  AppendMetadataEntry(out, k, v);
  return out;
}

std::string ErrorOf(absl::string_view body) {
  absl::StatusOr<Metadata> md = DecodeMetadata(body);
  EXPECT_FALSE(md.ok()) << Hex(body);
  return md.ok() ? "" : std::string(md.status().message());
}

TEST(MetadataTest, KeyValueEncodesToTheGoCompatibilityBytes) {
  EXPECT_EQ(Hex(EncodeMetadata({{"key", "value"}})), "0a 0c 0a 03 6b 65 79 12 05 76 61 6c 75 65");
}

TEST(MetadataTest, FiveConcatenatedEntriesAllParse) {
  std::string body;
  for (int i : {5, 1, 2, 3, 4}) {
    body += Entry("key" + std::to_string(i), "value" + std::to_string(i));
  }
  absl::StatusOr<Metadata> md = DecodeMetadata(body);
  ASSERT_TRUE(md.ok()) << md.status();
  ASSERT_EQ(md->size(), 5u);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(md->at("key" + std::to_string(i)), "value" + std::to_string(i));
}

TEST(MetadataTest, EmptyMapEncodesToNothingAndEmptyBodyDecodesToEmptyMap) {
  EXPECT_EQ(EncodeMetadata({}), "");
  absl::StatusOr<Metadata> md = DecodeMetadata("");
  ASSERT_TRUE(md.ok());
  EXPECT_TRUE(md->empty());
  EXPECT_FALSE(EncodeMetadata({{"a", "1"}, {"b", "2"}}).empty());
}

TEST(MetadataTest, DecodesTheGoTestDecodeBody) {
  absl::StatusOr<Metadata> md = DecodeMetadata(Bytes("0a 09 0a 04 74 65 73 74 12 01 61"));
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(*md, (Metadata{{"test", "a"}}));
}

TEST(MetadataTest, EmptyKeyAndValueAreStillWritten) {
  EXPECT_EQ(Hex(EncodeMetadata({{"", ""}})), "0a 04 0a 00 12 00");
  EXPECT_EQ(*DecodeMetadata(Bytes("0a 04 0a 00 12 00")), (Metadata{{"", ""}}));
}

TEST(MetadataTest, EncodingIsInKeyOrderWhateverTheInsertionOrder) {
  Metadata md;
  md["beta"] = "two";
  md["alpha"] = "1";
  EXPECT_EQ(EncodeMetadata(md), Entry("alpha", "1") + Entry("beta", "two"));
}

TEST(MetadataTest, DuplicateKeyLastOneWins) {
  EXPECT_EQ(*DecodeMetadata(Entry("k", "1") + Entry("k", "2")), (Metadata{{"k", "2"}}));
}

TEST(MetadataTest, DuplicateOfAnEarlierKeyReplacesItsValue) {
  // Keys out of order: the duplicate is not the map's last key when it arrives.
  EXPECT_EQ(*DecodeMetadata(Entry("b", "1") + Entry("c", "x") + Entry("a", "y") + Entry("b", "2")),
            (Metadata{{"a", "y"}, {"b", "2"}, {"c", "x"}}));
}

TEST(MetadataTest, BinaryKeysAndValuesRoundTrip) {
  const Metadata md = {{std::string("\0\xff", 2), std::string(300, '\x80')}};
  EXPECT_EQ(*DecodeMetadata(EncodeMetadata(md)), md);
}

TEST(MetadataTest, JunkIsInvalidWithTheOffset) {
  // E12: 0A 05 "junk" claims 5 bytes where 4 remain.
  EXPECT_EQ(ErrorOf(Bytes("0a 05") + "junk"),
            "invalid metadata: entry length 5 exceeds the 4 bytes left at offset 1");
}

TEST(MetadataTest, WrongEntryTagIsInvalid) {
  EXPECT_EQ(ErrorOf(Entry("a", "1") + Bytes("12 00")),
            "invalid metadata: expected entry tag 0x0A, got 0x12 at offset 8");
}

TEST(MetadataTest, ValueBeforeKeyIsInvalid) {
  EXPECT_THAT(ErrorOf(Bytes("0a 04 12 00 0a 00")), HasSubstr("expected key tag 0x0A, got 0x12"));
}

TEST(MetadataTest, MissingValueIsInvalid) {
  EXPECT_EQ(ErrorOf(Bytes("0a 02 0a 00")), "invalid metadata: missing value field at offset 4");
}

TEST(MetadataTest, MissingKeyIsInvalid) {
  EXPECT_EQ(ErrorOf(Bytes("0a 00")), "invalid metadata: missing key field at offset 2");
}

TEST(MetadataTest, ExtraFieldInsideAnEntryIsInvalid) {
  EXPECT_THAT(ErrorOf(Bytes("0a 06 0a 00 12 00 1a 00")),
              HasSubstr("2 unexpected bytes after the value field at offset 6"));
}

TEST(MetadataTest, KeyLengthBeyondItsEntryIsInvalid) {
  // The entry holds 3 bytes but the key claims 5; the following bytes must not be borrowed.
  EXPECT_THAT(ErrorOf(Bytes("0a 03 0a 05 61 62 63 64 65 66")),
              HasSubstr("key length 5 exceeds the 1 bytes left"));
}

TEST(MetadataTest, TruncatedLengthVarintIsInvalid) {
  EXPECT_THAT(ErrorOf(Bytes("0a 80")), HasSubstr("bad entry length varint at offset 1"));
}

TEST(MetadataTest, BodyOverTheLimitIsResourceExhausted) {
  const std::string body(limits::kMetadataMaxBytes + 1, '\0');
  absl::StatusOr<Metadata> md = DecodeMetadata(body);
  ASSERT_FALSE(md.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(md.status()));
}

TEST(MetadataTest, TooManyEntriesIsResourceExhausted) {
  std::string body;
  for (size_t i = 0; i <= limits::kMetadataEntriesMaxCount; ++i) body += Entry("", "");
  absl::StatusOr<Metadata> md = DecodeMetadata(body);
  ASSERT_FALSE(md.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(md.status()));
  body.resize(body.size() - Entry("", "").size());
  EXPECT_TRUE(DecodeMetadata(body).ok()) << "exactly the limit is fine";
}

// DecodeMetadataInto gives DecodeMetadata's result whatever the map held before: the same keys,
// other keys, more or fewer entries, keys out of order and duplicates.
TEST(MetadataTest, DecodeIntoAReusedMapGivesTheFreshResult) {
  const std::vector<std::string> bodies = {
      Entry("a", "1") + Entry("b", "2"),
      Entry("a", "a long value that does not fit inline") + Entry("b", "3"),
      Entry("b", "x"),
      Entry("a", "1") + Entry("c", "2") + Entry("d", "3"),
      Entry("d", "4") + Entry("a", "5"),
      Entry("a", "1") + Entry("a", "2"),
      Entry("a", "1") + Entry("b", "2") + Entry("a", "3"),
      "",
      Entry("z", "") + Entry("", "empty key"),
  };
  for (const std::string& before : bodies) {
    for (const std::string& body : bodies) {
      Metadata md;
      ASSERT_TRUE(DecodeMetadataInto(before, md).ok());
      ASSERT_TRUE(DecodeMetadataInto(body, md).ok());
      EXPECT_EQ(md, *DecodeMetadata(body)) << Hex(before) << " then " << Hex(body);
    }
  }
}

TEST(MetadataTest, DecodeIntoKeepsTheNodesOfTheSameKeys) {
  Metadata md;
  ASSERT_TRUE(DecodeMetadataInto(Entry("k", "value one, longer than inline"), md).ok());
  const std::string* const value = &md.begin()->second;
  const char* const bytes = value->data();
  ASSERT_TRUE(DecodeMetadataInto(Entry("k", "value two, longer than inline"), md).ok());
  EXPECT_EQ(&md.begin()->second, value);
  EXPECT_EQ(md.begin()->second.data(), bytes);
  EXPECT_EQ(md.begin()->second, "value two, longer than inline");
}

TEST(MetadataTest, DecodeIntoEmptiesTheMapOnAnError) {
  Metadata md = {{"x", "1"}};
  const absl::Status s = DecodeMetadataInto(Entry("a", "1") + "\x0a\x05\x0a", md);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), ErrorOf(Entry("a", "1") + "\x0a\x05\x0a"));
  EXPECT_TRUE(md.empty());
}

}  // namespace
}  // namespace drpc
