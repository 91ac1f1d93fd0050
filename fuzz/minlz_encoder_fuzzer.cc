// Fuzzes the MinLZ block encoder (proto/minlz.h) by round trip. Byte 0 picks the message: even, the
// rest of the input itself; odd, the rest decoded as a MinLZ or Snappy block (skipped when it does
// not decode or decodes to over 128 KiB: megabyte messages would cost page faults on every
// execution), so the encoder also sees the long repeats and matches that random bytes rarely hold.
// Checks: a message up to kMinLzBlockMaxBytes encodes to at most its size + 2 bytes (never larger
// than a stored block), and the block decodes to the message, within exactly the message's size as
// the limit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/minlz.h"

namespace {
constexpr size_t kDecodedMessageMaxBytes = 128 * 1024;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string decoded;
  absl::string_view message = rest;
  if (data[0] & 1) {
    if (!drpc::MinLzDecodeBlock(rest, kDecodedMessageMaxBytes, &decoded).ok()) return 0;
    message = decoded;
  }
  static_assert(kDecodedMessageMaxBytes <= drpc::limits::kMinLzBlockMaxBytes);
  if (message.size() > drpc::limits::kMinLzBlockMaxBytes) return 0;
  const std::string block = drpc::MinLzEncodeBlock(message);
  DRPC_CHECK_LE(block.size(), message.size() + 2);
  std::string back;
  const absl::Status s = drpc::MinLzDecodeBlock(block, message.size(), &back);
  DRPC_CHECK(s.ok()) << s;
  DRPC_CHECK(back == message) << "a message changed in its MinLZ round trip";
  return 0;
}
