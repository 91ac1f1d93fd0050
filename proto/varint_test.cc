#include "proto/varint.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;

std::string Encode(uint64_t v) {
  std::string out;
  AppendVarint(out, v);
  return out;
}

VarintStatus Decode(absl::string_view in, uint64_t* v, size_t* n) { return DecodeVarint(in, v, n); }

// The boundary values of Go's TestVarint/Round Trip (docs/protocol.md §12.1).
std::vector<uint64_t> GoRoundTripValues() {
  std::vector<uint64_t> values = {0, 1, 2};
  for (int k = 1; k <= 9; ++k) {
    const uint64_t p = uint64_t{1} << (7 * k);
    values.insert(values.end(), {p - 1, p, p + 1});
  }
  const uint64_t p63 = uint64_t{1} << 63;
  values.insert(values.end(), {p63 - 1, p63, p63 + 1, UINT64_MAX});
  for (int bits = 1; bits <= 64; ++bits) {
    values.push_back(bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1);
  }
  return values;
}

TEST(VarintTest, EncodesTheSpecExamplesMinimally) {
  const struct {
    uint64_t value;
    const char* hex;
  } cases[] = {
      {0, "00"},
      {1, "01"},
      {127, "7f"},
      {128, "80 01"},
      {300, "ac 02"},
      {16383, "ff 7f"},
      {16384, "80 80 01"},
      {4464, "f0 22"},
      {65536, "80 80 04"},
      {4194304, "80 80 80 02"},
      {uint64_t{1} << 63, "80 80 80 80 80 80 80 80 80 01"},
      {UINT64_MAX, "ff ff ff ff ff ff ff ff ff 01"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Hex(Encode(c.value)), c.hex) << c.value;
  }
}

TEST(VarintTest, EncodedSizeIsGoFormulaAndRoundTripConsumesEveryByte) {
  for (uint64_t v : GoRoundTripValues()) {
    const std::string enc = Encode(v);
    const size_t bitlen = v == 0 ? 0 : 64 - __builtin_clzll(v);
    EXPECT_EQ(enc.size(), (9 * bitlen + 64) / 64) << v;
    EXPECT_EQ(VarintSize(v), enc.size()) << v;
    uint64_t back = 0;
    size_t n = 0;
    ASSERT_EQ(Decode(enc, &back, &n), VarintStatus::kOk) << v;
    EXPECT_EQ(back, v);
    EXPECT_EQ(n, enc.size());
  }
}

TEST(VarintTest, EncodeVarintWritesTheSameBytesAsAppend) {
  for (uint64_t v : GoRoundTripValues()) {
    char buf[limits::kVarintMaxBytes];
    const size_t n = EncodeVarint(v, buf);
    EXPECT_EQ(std::string(buf, n), Encode(v));
  }
}

TEST(VarintTest, AppendReturnsBytesAppendedAndKeepsExistingContent) {
  std::string out = "x";
  EXPECT_EQ(AppendVarint(out, 300), 2u);
  EXPECT_EQ(out, "x\xAC\x02");
}

TEST(VarintTest, NonMinimalEncodingIsAcceptedAsGoDoes) {
  uint64_t v = 0;
  size_t n = 0;
  ASSERT_EQ(Decode(Bytes("81 00"), &v, &n), VarintStatus::kOk);
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(n, 2u);
  ASSERT_EQ(Decode(Bytes("80 80 80 80 80 80 80 80 80 00"), &v, &n), VarintStatus::kOk);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(n, 10u);
}

TEST(VarintTest, ExcessBitsInTenthByteAreDropped) {
  uint64_t v = 0;
  size_t n = 0;
  ASSERT_EQ(Decode(Bytes("ff ff ff ff ff ff ff ff ff 7f"), &v, &n), VarintStatus::kOk);
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_EQ(n, 10u);
  ASSERT_EQ(Decode(Bytes("80 80 80 80 80 80 80 80 80 7e"), &v, &n), VarintStatus::kOk);
  EXPECT_EQ(v, 0u) << "bit 63 comes from the lowest bit of the 10th byte only";
}

TEST(VarintTest, TenBytesWithContinuationBitAreTooLong) {
  uint64_t v = 0;
  size_t n = 0;
  EXPECT_EQ(Decode(Bytes("ff ff ff ff ff ff ff ff ff ff"), &v, &n), VarintStatus::kTooLong);
  EXPECT_EQ(Decode(Bytes("80 80 80 80 80 80 80 80 80 80 01"), &v, &n), VarintStatus::kTooLong);
}

TEST(VarintTest, BufferEndingInsideVarintIsIncompleteNotAnError) {
  const std::string full = Bytes("ff ff ff ff ff ff ff ff ff 01");
  for (size_t len = 0; len < full.size(); ++len) {
    uint64_t v = 42;
    size_t n = 42;
    EXPECT_EQ(Decode(absl::string_view(full).substr(0, len), &v, &n), VarintStatus::kIncomplete)
        << len;
    EXPECT_EQ(v, 42u) << "nothing is set when incomplete";
    EXPECT_EQ(n, 42u);
  }
}

TEST(VarintTest, DecodeStopsAtTheEndOfTheVarint) {
  uint64_t v = 0;
  size_t n = 0;
  ASSERT_EQ(Decode(Bytes("ac 02 ff ff"), &v, &n), VarintStatus::kOk);
  EXPECT_EQ(v, 300u);
  EXPECT_EQ(n, 2u);
}

}  // namespace
}  // namespace drpc
