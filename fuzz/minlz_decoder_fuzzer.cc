// Fuzzes the MinLZ block decoder (proto/minlz.h) and, through its fallback, Snappy blocks. Byte 0
// picks the output limit (2^(b % 18) bytes: 1 B .. 128 KiB; every path of the decoder is reached
// within 128 KiB (a Copy3 needs an output beyond 64 KiB; larger stated lengths are refused by the
// same comparisons), while megabyte outputs would cost page faults on every execution); the rest is
// a block. Checks: decoding never produces more than the limit and exactly the stated length; a
// block stating more than the limit is kResourceExhausted; every other failure names its codec. The
// encoder has its own harness (minlz_encoder_fuzzer.cc), so every execution here is spent on the
// decoder and coverage guides towards decoder paths only.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/minlz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = size_t{1} << (data[0] % 18);
  const absl::string_view block(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string out;
  const absl::Status s = drpc::MinLzDecodeBlock(block, limit, &out);
  const absl::StatusOr<uint64_t> stated = drpc::MinLzDecodedLength(block);
  if (s.ok()) {
    DRPC_CHECK(stated.ok());
    DRPC_CHECK_EQ(out.size(), *stated);
    DRPC_CHECK_LE(out.size(), limit);
  } else if (s.code() == absl::StatusCode::kResourceExhausted) {
    DRPC_CHECK(stated.ok() && *stated > limit);
  } else {
    DRPC_CHECK(absl::StartsWith(s.message(), "minlz: ") ||
               absl::StartsWith(s.message(), "snappy: "))
        << s.message();
  }
  return 0;
}
