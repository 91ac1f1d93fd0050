// Fuzzes Snappy block decoding through the compression API (proto/compression.h, "snappy"), and
// the "minlz-fastest" sender's choice of codec. Byte 0 picks the message limit (2^(b % 24)
// bytes); the rest is a Message body. Checks: decoding never produces more than the limit and
// exactly the stated length; a body stating more than the limit is kResourceExhausted; every
// failure names its codec; the body taken as a message round-trips through both compressions.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = size_t{1} << (data[0] % 24);
  const absl::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string out;
  const absl::Status s = drpc::DecompressMessage(drpc::Compression::kSnappy, body, limit, &out);
  const absl::StatusOr<uint64_t> stated =
      drpc::DecompressedLength(drpc::Compression::kSnappy, body);
  if (s.ok()) {
    DRPC_CHECK(stated.ok());
    DRPC_CHECK_EQ(out.size(), *stated);
    DRPC_CHECK_LE(out.size(), limit);
  } else if (s.code() == absl::StatusCode::kResourceExhausted) {
    DRPC_CHECK(stated.ok() && *stated > limit);
  } else {
    DRPC_CHECK(absl::StartsWith(s.message(), "snappy: ")) << s.message();
  }
  for (drpc::Compression c : {drpc::Compression::kSnappy, drpc::Compression::kMinLzFastest}) {
    const std::string wire = drpc::CompressMessage(c, body);
    DRPC_CHECK(drpc::DecompressMessage(c, wire, body.size(), &out).ok());
    DRPC_CHECK(out == body);
  }
  return 0;
}
