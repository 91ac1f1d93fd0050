// Error packet bodies (spec §6; drpcwire TestError §12.1; E13).
#include "proto/error_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;

TEST(ErrorCodecTest, CodeIsEightBytesBigEndianFollowedByText) {
  EXPECT_EQ(Hex(EncodeError(42, "boom")), "00 00 00 00 00 00 00 2a 62 6f 6f 6d");
  EXPECT_EQ(Hex(EncodeError(0x0102030405060708u, "")), "01 02 03 04 05 06 07 08");
}

TEST(ErrorCodecTest, CodeAndTextSurviveARoundTrip) {
  EXPECT_EQ(DecodeError(EncodeError(5, "test")), (RemoteError{5, "test"}));
  EXPECT_EQ(DecodeError(EncodeError(UINT64_MAX, "x")), (RemoteError{UINT64_MAX, "x"}));
}

TEST(ErrorCodecTest, ShortBodyBecomesCodeZeroWithGosNote) {
  EXPECT_EQ(DecodeError("abc"), (RemoteError{0, "abc (drpcwire note: invalid error data)"}));
  EXPECT_EQ(DecodeError(""), (RemoteError{0, " (drpcwire note: invalid error data)"}));
  EXPECT_EQ(DecodeError(std::string(7, 'x')).code, 0u);
}

TEST(ErrorCodecTest, ExactlyEightBytesIsACodeWithEmptyText) {
  EXPECT_EQ(DecodeError(Bytes("00 00 00 00 00 00 00 0c")), (RemoteError{12, ""}));
}

TEST(ErrorCodecTest, UnknownRpcErrorDecodesWithCodeZero) {
  const std::string text = "protocol error: unknown rpc: \"/pkg.Svc/Nope\"";
  EXPECT_EQ(DecodeError(Bytes("00 00 00 00 00 00 00 00") + text), (RemoteError{0, text}));
}

TEST(ErrorCodecTest, LongTextIsTruncatedToTheLimit) {
  const std::string text(limits::kErrorTextMaxBytes + 100, 'e');
  const std::string body = EncodeError(3, text);
  EXPECT_EQ(body.size(), limits::kErrorCodeBytes + limits::kErrorTextMaxBytes);
  EXPECT_EQ(DecodeError(body).text, text.substr(0, limits::kErrorTextMaxBytes));
}

TEST(ErrorCodecTest, TruncationNeverSplitsAUtf8Sequence) {
  // A 3-byte euro sign straddles the limit: it is dropped whole.
  std::string text(limits::kErrorTextMaxBytes - 1, 'e');
  text += "\xE2\x82\xAC";
  const std::string sent = DecodeError(EncodeError(1, text)).text;
  EXPECT_EQ(sent, std::string(limits::kErrorTextMaxBytes - 1, 'e'));
}

}  // namespace
}  // namespace drpc
