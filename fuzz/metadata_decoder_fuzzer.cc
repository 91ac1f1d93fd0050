// Fuzzes DecodeMetadata. Checks: a body that decodes re-encodes (canonically: sorted keys,
// minimal varints, duplicates resolved) to at most its own size, and that encoding decodes to
// the same map; a rejected body gets a message naming what was wrong.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<drpc::Metadata> md = drpc::DecodeMetadata(body);
  if (!md.ok()) {
    DRPC_CHECK(absl::IsInvalidArgument(md.status()) || absl::IsResourceExhausted(md.status()));
    DRPC_CHECK(absl::StartsWith(md.status().message(), "invalid metadata: "));
    return 0;
  }
  const std::string canonical = drpc::EncodeMetadata(*md);
  DRPC_CHECK_LE(canonical.size(), body.size());
  absl::StatusOr<drpc::Metadata> back = drpc::DecodeMetadata(canonical);
  // Encoding is a function of the map, so back == md also means it re-encodes to `canonical`.
  DRPC_CHECK(back.ok() && *back == *md) << "canonical re-encoding must round-trip";
  return 0;
}
