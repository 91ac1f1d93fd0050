// Fuzzes DecodeMetadata. Checks: a body that decodes re-encodes (canonically: sorted keys,
// minimal varints, duplicates resolved) to at most its own size, and that encoding decodes to
// the same map; a rejected body gets a message naming what was wrong; and DecodeMetadataInto,
// which reuses a map's nodes, gives the same result whatever the map held before (the previous
// input's entries, or this body's own), and an empty map with the same error.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/metadata.h"

namespace {

// DecodeMetadataInto into `reused` agrees with a decode into a fresh map.
void CheckReusedDecode(absl::string_view body, const absl::StatusOr<drpc::Metadata>& fresh,
                       drpc::Metadata& reused) {
  const absl::Status status = drpc::DecodeMetadataInto(body, reused);
  if (!fresh.ok()) {
    DRPC_CHECK(status == fresh.status()) << status << " vs " << fresh.status();
    DRPC_CHECK(reused.empty()) << "a failed decode leaves the map empty";
    return;
  }
  DRPC_CHECK(status.ok()) << status;
  DRPC_CHECK(reused == *fresh) << "a reused map must decode to what a fresh one does";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<drpc::Metadata> md = drpc::DecodeMetadata(body);
  // Holds the previous input's entries: each input refills what the last one left.
  static drpc::Metadata* const across_inputs = new drpc::Metadata();
  CheckReusedDecode(body, md, *across_inputs);
  if (md.ok()) {
    drpc::Metadata own = *md;  // this body's own entries, then decoded again over them
    CheckReusedDecode(body, md, own);
  }
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
