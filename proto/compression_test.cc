// Per-stream compression of the mux fork (§19): names, metadata key, the
// sender's codec per message size, bounded decoding.
#include "proto/compression.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/minlz.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::string Repetitive(size_t n) {
  std::string s;
  while (s.size() < n) s += "the quick brown fox " + std::to_string(s.size() % 97) + "; ";
  s.resize(n);
  return s;
}

TEST(CompressionTest, NamesAreTheForks) {
  EXPECT_EQ(CompressionName(Compression::kSnappy), "snappy");
  EXPECT_EQ(CompressionName(Compression::kMinLzFastest), "minlz-fastest");
  EXPECT_EQ(CompressionName(Compression::kNone), "");
  for (Compression c : {Compression::kSnappy, Compression::kMinLzFastest}) {
    EXPECT_EQ(CompressionFromName(CompressionName(c)), c);
  }
  EXPECT_EQ(CompressionFromName(""), std::nullopt);
  EXPECT_EQ(CompressionFromName("gzip"), std::nullopt);
  EXPECT_EQ(CompressionFromName("Snappy"), std::nullopt);
}

TEST(CompressionTest, ClientSetsTheKeyOrStripsAStrayOne) {
  Metadata md = {{"a", "1"}};
  SetRequestedCompression(Compression::kMinLzFastest, md);
  EXPECT_EQ(md, (Metadata{{"a", "1"}, {"drpc-compression", "minlz-fastest"}}));
  Metadata stray = {{"drpc-compression", "snappy"}, {"a", "1"}};
  SetRequestedCompression(Compression::kNone, stray);
  EXPECT_EQ(stray, (Metadata{{"a", "1"}}));
}

TEST(CompressionTest, ServerHonoursAKnownNameAndHidesTheKey) {
  Metadata md = {{"drpc-compression", "snappy"}, {"a", "1"}};
  EXPECT_EQ(*TakeRequestedCompression(md), Compression::kSnappy);
  EXPECT_EQ(md, (Metadata{{"a", "1"}}));
  Metadata none = {{"a", "1"}};
  EXPECT_EQ(*TakeRequestedCompression(none), Compression::kNone);
}

TEST(CompressionTest, ServerRejectsAnUnknownName) {
  Metadata md = {{"drpc-compression", "zstd\n"}};
  absl::StatusOr<Compression> c = TakeRequestedCompression(md);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "unsupported compression: \"zstd\\n\"");
  EXPECT_TRUE(md.empty());
}

TEST(CompressionTest, MinLzFastestFallsBackToSnappyBySize) {
  const auto f = [](size_t n) { return SenderBlockFormat(Compression::kMinLzFastest, n); };
  EXPECT_EQ(f(0), BlockFormat::kSnappy);
  EXPECT_EQ(f(4 * limits::kKiB), BlockFormat::kSnappy);
  EXPECT_EQ(f(4 * limits::kKiB + 1), BlockFormat::kMinLz);
  EXPECT_EQ(f(8 * limits::kMiB), BlockFormat::kMinLz);
  EXPECT_EQ(f(8 * limits::kMiB + 1), BlockFormat::kSnappy);
  EXPECT_EQ(SenderBlockFormat(Compression::kSnappy, 100 * limits::kMiB), BlockFormat::kSnappy);
  EXPECT_EQ(SenderBlockFormat(Compression::kNone, 5), BlockFormat::kNone);
}

TEST(CompressionTest, EveryMessageIsCompressedEvenAnEmptyOne) {
  EXPECT_EQ(Hex(CompressMessage(Compression::kSnappy, "")), "00");
  EXPECT_EQ(Hex(CompressMessage(Compression::kMinLzFastest, "")), "00");
  EXPECT_EQ(CompressMessage(Compression::kNone, "raw"), "raw");
}

TEST(CompressionTest, BodiesOfEverySizeClassRoundTrip) {
  for (Compression c : {Compression::kNone, Compression::kSnappy, Compression::kMinLzFastest}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{4097}, size_t{1} << 20,
                     limits::kMinLzBlockMaxBytes + 1}) {
      const std::string in = Repetitive(n);
      const std::string body = CompressMessage(c, in);
      if (c != Compression::kNone && n > 100) {
        EXPECT_LT(body.size(), n / 2);
      }
      EXPECT_EQ(*DecompressedLength(c, body), n);
      std::string out;
      ASSERT_TRUE(DecompressMessage(c, body, n, &out).ok()) << CompressionName(c) << " " << n;
      EXPECT_EQ(out, in);
    }
  }
}

TEST(CompressionTest, MinLzBodiesAreMinLzBlocksAboveTheThreshold) {
  const std::string body = CompressMessage(Compression::kMinLzFastest, Repetitive(10000));
  EXPECT_EQ(body[0], '\0');  // the MinLZ indicator
  EXPECT_NE(CompressMessage(Compression::kMinLzFastest, Repetitive(1000))[0], '\0');
}

TEST(CompressionTest, ADecompressionBombFailsBeforeAllocating) {
  const std::string in(8 * limits::kMiB, 'b');
  for (Compression c : {Compression::kSnappy, Compression::kMinLzFastest}) {
    const std::string body = CompressMessage(c, in);
    EXPECT_LT(body.size(), 500 * limits::kKiB);
    std::string out;
    absl::Status s = DecompressMessage(c, body, limits::kMiB, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    EXPECT_THAT(s.message(), HasSubstr("exceeds the limit of 1048576 bytes"));
    EXPECT_EQ(out.capacity(), std::string().capacity());
  }
  std::string out;
  EXPECT_EQ(DecompressMessage(Compression::kNone, "12345", 4, &out).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(CompressionTest, CorruptBodiesAreErrorsNamingTheCodec) {
  std::string out;
  EXPECT_THAT(DecompressMessage(Compression::kSnappy, "\x05\x10he", 100, &out).message(),
              HasSubstr("snappy: corrupt"));
  EXPECT_THAT(DecompressMessage(Compression::kMinLzFastest, std::string("\0\x05\x10he", 5), 100,
                                &out).message(),
              HasSubstr("minlz: literals truncated"));
  // A MinLZ block on a snappy stream is corrupt there.
  EXPECT_FALSE(DecompressMessage(Compression::kSnappy, MinLzEncodeBlock(Repetitive(9000)), 1 << 20,
                                 &out).ok());
}

}  // namespace
}  // namespace drpc
