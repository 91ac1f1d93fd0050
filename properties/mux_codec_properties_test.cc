// Properties of the mux fork's codecs (rapidcheck): Error bodies in the gRPC-status format and
// message compression (Snappy, MinLZ) round-trip; decoding arbitrary bytes never exceeds its
// limit and fails only with the codec's own errors.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "properties/generators.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "proto/grpc_status.h"
#include "proto/limits.h"
#include "proto/minlz.h"
#include "proto/protobuf_wire.h"
#include "rapidcheck/gtest.h"

namespace drpc::properties {
namespace {

// Messages that compress: runs of a few words and repeats at every distance class (Copy1, Copy2,
// Copy3 offsets), mixed with arbitrary bytes.
rc::Gen<std::string> GenMessage() {
  return rc::gen::oneOf(
      GenData(5000),
      rc::gen::map(
          rc::gen::container<std::vector<std::pair<std::string, int>>>(
              rc::gen::pair(GenData(40), rc::gen::inRange(1, 400))),
          [](const std::vector<std::pair<std::string, int>>& runs) {
            std::string s;
            for (const auto& [piece, times] : runs) {
              for (int i = 0; i < times && s.size() < 300000; ++i) s += piece;
            }
            return s;
          }),
      rc::gen::map(rc::gen::pair(GenData(2000), rc::gen::inRange<size_t>(1, 140000)),
                   [](const std::pair<std::string, size_t>& p) {
                     // The same block again after a gap: a long-distance match.
                     return p.first + std::string(p.second, '\x7f') + p.first;
                   }));
}

rc::Gen<Compression> GenCompression() {
  return rc::gen::element(Compression::kNone, Compression::kSnappy, Compression::kMinLzFastest);
}

RC_GTEST_PROP(CompressionProperties, CompressThenDecompressIsIdentity, ()) {
  const Compression c = *GenCompression();
  const std::string message = *GenMessage();
  const std::string body = CompressMessage(c, message);
  RC_ASSERT(*DecompressedLength(c, body) == message.size());
  std::string out;
  RC_ASSERT(DecompressMessage(c, body, message.size(), &out).ok());
  RC_ASSERT(out == message);
}

RC_GTEST_PROP(CompressionProperties, MinLzEncodingIsNeverLargerThanAStoredBlock, ()) {
  const std::string message = *GenMessage();
  const std::string block = MinLzEncodeBlock(message);
  RC_ASSERT(block.size() <= message.size() + 2);
  std::string out;
  RC_ASSERT(MinLzDecodeBlock(block, message.size(), &out).ok());
  RC_ASSERT(out == message);
}

RC_GTEST_PROP(CompressionProperties, ALimitBelowTheMessageFailsWithoutOutput, ()) {
  const Compression c = *rc::gen::element(Compression::kSnappy, Compression::kMinLzFastest);
  const std::string message = *GenMessage();
  RC_PRE(!message.empty());
  const size_t limit = *rc::gen::inRange<size_t>(0, message.size());
  std::string out;
  const absl::Status s = DecompressMessage(c, CompressMessage(c, message), limit, &out);
  RC_ASSERT(s.code() == absl::StatusCode::kResourceExhausted);
  RC_ASSERT(out.empty());
}

RC_GTEST_PROP(CompressionProperties, DecodingArbitraryBytesStaysWithinTheLimit, ()) {
  const Compression c = *rc::gen::element(Compression::kSnappy, Compression::kMinLzFastest);
  const std::string body = *GenData(3000);
  const size_t limit = *rc::gen::inRange<size_t>(0, 1 << 16);
  std::string out;
  const absl::Status s = DecompressMessage(c, body, limit, &out);
  if (s.ok()) {
    RC_ASSERT(out.size() <= limit);
  } else {
    RC_ASSERT(s.code() == absl::StatusCode::kResourceExhausted ||
              absl::StartsWith(s.message(), "snappy: ") ||
              absl::StartsWith(s.message(), "minlz: "));
  }
}

rc::Gen<std::string> GenAny() {
  return rc::gen::map(rc::gen::pair(GenData(40), GenData(60)),
                      [](const std::pair<std::string, std::string>& p) {
                        return EncodeAny(pb::ToValidUtf8(p.first), p.second);
                      });
}

RC_GTEST_PROP(ErrorBodyProperties, GrpcStatusBodiesRoundTrip, ()) {
  RemoteError e;
  e.code = *GenU64();
  e.text = pb::ToValidUtf8(*GenData(500));
  e.details = *rc::gen::container<std::vector<std::string>>(GenAny());
  RC_PRE(e.details.size() < limits::kErrorDetailsMaxCount);
  const std::string body = EncodeErrorBody(ErrorFormat::kGrpcStatus, e);
  RC_ASSERT(body.size() <= limits::kGrpcErrorBodyMaxBytes);
  absl::StatusOr<RemoteError> back = DecodeErrorBody(ErrorFormat::kGrpcStatus, body);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == e);
}

RC_GTEST_PROP(ErrorBodyProperties, UpstreamBodiesAreNeverReadAsGrpcStatus, ()) {
  // Any code below 2^56 starts the upstream body with 0: the fork format rejects it, saying so.
  const uint64_t code = *GenU64() >> 8;
  const std::string body = EncodeErrorBody(ErrorFormat::kUpstream, {code, *GenData(100)});
  absl::StatusOr<RemoteError> r = DecodeErrorBody(ErrorFormat::kGrpcStatus, body);
  RC_ASSERT(!r.ok());
  RC_ASSERT(absl::StrContains(r.status().message(), "looks like an upstream drpc error body"));
}

}  // namespace
}  // namespace drpc::properties
