// Fuzzes DecodeError (which never fails, as in Go) and EncodeError's truncation. Checks: bodies
// shorter than 8 bytes become code 0 with Go's "(drpcwire note: invalid error data)" text; longer
// ones re-encode byte-identically when their text is within the send limit; encoding any text
// yields at most 8 + limits::kErrorTextMaxBytes bytes holding a prefix of the text.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  const drpc::RemoteError e = drpc::DecodeError(body);
  if (size < drpc::limits::kErrorCodeBytes) {
    DRPC_CHECK_EQ(e.code, uint64_t{0});
    DRPC_CHECK(absl::StartsWith(e.text, body));
    DRPC_CHECK(absl::EndsWith(e.text, " (drpcwire note: invalid error data)"));
  } else if (e.text.size() <= drpc::limits::kErrorTextMaxBytes) {
    DRPC_CHECK(drpc::EncodeError(e.code, e.text) == body);
  }
  const std::string sent = drpc::EncodeError(e.code, body);
  DRPC_CHECK_LE(sent.size(), drpc::limits::kErrorCodeBytes + drpc::limits::kErrorTextMaxBytes);
  const drpc::RemoteError back = drpc::DecodeError(sent);
  DRPC_CHECK_EQ(back.code, e.code);
  DRPC_CHECK(absl::StartsWith(body, back.text));
  DRPC_CHECK(body.size() - back.text.size() <= (body.size() > drpc::limits::kErrorTextMaxBytes
                                                    ? body.size() - drpc::limits::kErrorTextMaxBytes + 3
                                                    : 0));
  return 0;
}
