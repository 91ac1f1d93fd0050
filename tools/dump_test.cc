#include "tools/dump_lib.h"

#include <sstream>
#include <string>

#include "fuzz/corpus_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "proto/metadata.h"
#include "proto/test_frames.h"
#include "proto/window.h"

namespace drpc::dump {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::EncodeFrame;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadData(const std::string& rel) {
  absl::StatusOr<std::string> s = corpus::ReadFile(corpus::RunfilesPath(rel));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

struct DumpRun {
  int rc;
  std::string out;
};

DumpRun Dump(absl::string_view bytes, DumpOptions options = {}) {
  std::ostringstream out;
  const int rc = DumpStream(bytes, options, out);
  return {rc, out.str()};
}

TEST(DumpTest, MetadataCaptureMatchesTheGoldenListing) {
  const DumpRun r = Dump(ReadData("corpus/conformance/meta/conn001.c2s.bin"));
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, ReadData("tools/testdata/dump_meta_c2s.golden"));
}

TEST(DumpTest, ErrorCaptureMatchesTheGoldenListing) {
  const DumpRun r = Dump(ReadData("corpus/conformance/fail/conn001.s2c.bin"));
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, ReadData("tools/testdata/dump_fail_s2c.golden"));
}

TEST(DumpTest, IdRegressionIsReportedAtItsOffsetWithNonZeroStatus) {
  const DumpRun r = Dump(ReadData("corpus/conformance/raw_id_regression/conn001.c2s.bin"),
                     DumpOptions{.frames = false});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.out, EndsWith("error  @32 protocol error: id monotonicity violation "
                              "(fr:<1,1> r:<2,4>)\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("frame ")));
}

TEST(DumpTest, CorruptVarintIsReportedAtTheFramesOffset) {
  const DumpRun r = Dump(EncodeFrame(1, 1, Kind::kMessage, true, "ok") +
                     Bytes("05 ff ff ff ff ff ff ff ff ff ff"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.out, HasSubstr("error  @6 protocol error: varint too long: stream ID"));
}

TEST(DumpTest, TruncatedLastFrameIsReported) {
  const DumpRun r = Dump(EncodeFrame(1, 1, Kind::kMessage, true, "ok") + Bytes("05 01 02 09 61"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.out, EndsWith("eof    @6 5 bytes of an incomplete frame\n"));
}

TEST(DumpTest, UnknownKindsAreExplained) {
  const DumpRun r = Dump(EncodeFrame(1, 1, static_cast<Kind>(20), true, "?", true) +
                     EncodeFrame(1, 2, static_cast<Kind>(20), true, "?"));
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("Kind(20) control len=1 (unknown kind with control bit"));
  EXPECT_THAT(r.out, HasSubstr("Kind(20) len=1 (unknown kind without control bit: receivers fail"));
}

TEST(DumpTest, MuxModeAssemblesInterleavedStreams) {
  const std::string wire = EncodeFrame(1, 1, Kind::kMessage, false, "he") +
                           EncodeFrame(2, 1, Kind::kMessage, true, "other") +
                           EncodeFrame(1, 1, Kind::kMessage, true, "llo");
  EXPECT_THAT(Dump(wire, DumpOptions{.mode = DumpMode::kMux}).out,
              HasSubstr("packet <1,1> Message len=5 \"hello\""));
  EXPECT_THAT(Dump(wire).out, Not(HasSubstr("\"hello\""))) << "upstream discards the partial";
}

TEST(DumpTest, MuxModeShowsWindowUpdatesWithMessageIdZero) {
  std::string wire;
  AppendFrame(wire, Frame{.id = {3, 0}, .kind = Kind::kWindowUpdate, .done = true,
                          .control = true, .data = EncodeWindowUpdate(65536)});
  wire += EncodeFrame(3, 1, Kind::kMessage, true, "after");
  const DumpRun r = Dump(wire, DumpOptions{.mode = DumpMode::kMux});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("packet <3,0> WindowUpdate control"));
  EXPECT_THAT(r.out, HasSubstr("65536"));
  EXPECT_THAT(r.out, HasSubstr("packet <3,1> Message len=5"));
}

TEST(DumpTest, MigrateHeaderIsRecognisedAndOffsetsStayAbsolute) {
  const DumpRun r = Dump("DRPC!!!1" + EncodeFrame(1, 1, Kind::kWindowUpdate, true, "\x80\x01", true) +
                     Bytes("05 ff ff ff ff ff ff ff ff ff ff"));
  EXPECT_THAT(r.out, HasSubstr("migrate @0 header \"DRPC!!!1\""));
  EXPECT_THAT(r.out, HasSubstr("WindowUpdate control len=2 delta=128"));
  EXPECT_THAT(r.out, HasSubstr("error  @14 "));
}

TEST(DumpTest, PreviewQuotesTextAndHexesBinary) {
  EXPECT_EQ(Preview("hello", 48), "\"hello\"");
  EXPECT_EQ(Preview("a\"b", 48), "\"a\\\"b\"");
  EXPECT_EQ(Preview(Bytes("00 01 02"), 48), "hex:000102");
  EXPECT_EQ(Preview("abcdef", 3), "\"abc\"...");
}

TEST(DumpTest, ForkErrorBodyDecodesInTheGrpcStatusFormat) {
  // §16.3: the Go fork's Fail reply.
  const std::string wire = Bytes("07 01 01 09 01 08 02 12 04 62 6f 6f 6d");
  const DumpRun fork = Dump(wire, {.mode = DumpMode::kMux, .frames = false,
                                   .error_format = ErrorFormat::kGrpcStatus});
  EXPECT_EQ(fork.out, "packet <1,1> Error len=9 code=0 grpc_code=2 text=\"boom\"\n");
  // Read as upstream it is what Go upstream makes of it, with a note saying what it really is.
  const DumpRun upstream = Dump(wire, {.mode = DumpMode::kMux, .frames = false});
  EXPECT_THAT(upstream.out, HasSubstr("code=74311670257839983 text=\"m\" note=\"the body is also a "
                                      "well-formed gRPC-status error body"));
}

TEST(DumpTest, UpstreamErrorBodyInTheForkFormatIsShownUndecodable) {
  const std::string wire = EncodeFrame(1, 1, Kind::kError, true, EncodeError(42, "boom"));
  const DumpRun r = Dump(wire, {.frames = false, .error_format = ErrorFormat::kGrpcStatus});
  EXPECT_THAT(r.out, HasSubstr("code=<undecodable: unsupported error version: 0 (it looks like an "
                               "upstream drpc error body: code=42"));
}

TEST(DumpTest, CompressionMetadataSelectsDecompressionForThatStream) {
  const std::string message(5000, 'z');
  std::string wire = EncodeFrame(1, 1, Kind::kInvokeMetadata, true,
                                 EncodeMetadata({{"drpc-compression", "minlz-fastest"}}));
  wire += EncodeFrame(1, 2, Kind::kInvoke, true, "/svc/M");
  wire += EncodeFrame(1, 3, Kind::kMessage, true,
                      CompressMessage(Compression::kMinLzFastest, message));
  wire += EncodeFrame(3, 1, Kind::kInvoke, true, "/svc/M");
  wire += EncodeFrame(3, 2, Kind::kMessage, true, "plain");
  const DumpRun r = Dump(wire, {.mode = DumpMode::kMux, .frames = false, .preview_max_bytes = 4});
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out,
              HasSubstr("metadata={drpc-compression=minlz-fastest} compression=minlz-fastest"));
  EXPECT_THAT(r.out, HasSubstr("packet <1,3> Message len="));
  EXPECT_THAT(r.out, HasSubstr(" minlz-fastest len="));
  EXPECT_THAT(r.out, HasSubstr(" -> 5000 \"zzzz\"..."));
  EXPECT_THAT(r.out, HasSubstr("packet <3,2> Message len=5 \"plai\"..."));
}

TEST(DumpTest, CompressionOptionAppliesToEveryStreamAndShowsCorruptBodies) {
  std::string wire =
      EncodeFrame(1, 1, Kind::kMessage, true, CompressMessage(Compression::kSnappy, "hello"));
  wire += EncodeFrame(1, 2, Kind::kMessage, true, Bytes("05 10 68"));
  wire += EncodeFrame(1, 3, Kind::kInvokeMetadata, true,
                      EncodeMetadata({{"drpc-compression", "lz4"}}));
  const DumpRun r = Dump(wire, {.mode = DumpMode::kMux, .frames = false,
                                .compression = Compression::kSnappy});
  EXPECT_THAT(r.out, HasSubstr("packet <1,1> Message len=7 snappy len=7 -> 5 \"hello\""));
  EXPECT_THAT(r.out, HasSubstr("packet <1,2> Message len=3 snappy <snappy: corrupt block"));
  EXPECT_THAT(r.out, HasSubstr("compression=<unsupported compression: \"lz4\">"));
}

}  // namespace
}  // namespace drpc::dump
