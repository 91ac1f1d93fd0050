// Fuzzes the mux fork's Error bodies: DecodeErrorBody(kGrpcStatus) (version byte + a
// google.rpc.Status through the minimal protobuf reader) and the encoder on what it accepts.
// Checks: a rejection is one of the three failures a Go fork peer has too; an accepted body
// re-encodes to a body that decodes to the same code and text, with its details a subsequence of
// the original's (the encoder drops only what exceeds its budget), within the size bound; an
// accepted body gets the upstream decoder's "this is a gRPC-status body" note, and the note of
// the other direction never crashes; the raw protobuf reader terminates on any input.
// max_len is 4 KiB for speed: texts over the 64 KiB truncation bound are left to the unit tests
// (proto/error_codec_test.cc).
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/no_coverage.h"
#include "proto/base/check.h"
#include "proto/error_codec.h"
#include "proto/limits.h"
#include "proto/protobuf_wire.h"

DRPC_FUZZ_NO_COVERAGE
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  drpc::pb::Reader reader(body);
  drpc::pb::Field field;
  for (size_t fields = 1; reader.Next(&field); ++fields) {
    DRPC_CHECK_LE(fields, size);  // every field consumes at least one byte
  }
  absl::StatusOr<drpc::RemoteError> e = drpc::DecodeErrorBody(drpc::ErrorFormat::kGrpcStatus, body);
  if (!e.ok()) {
    const absl::string_view m = e.status().message();
    DRPC_CHECK(m == "empty error data" || absl::StartsWith(m, "unsupported error version: ") ||
               absl::StartsWith(m, "failed to unmarshal error: "))
        << m;
    return 0;
  }
  DRPC_CHECK_LE(e->details.size(), drpc::limits::kErrorDetailsMaxCount);
  // An upstream peer that receives this body says what it is (decoded again: only for bodies
  // that decode, so rejected inputs cost one decoding).
  DRPC_CHECK(drpc::OtherErrorFormatNote(drpc::ErrorFormat::kUpstream, body).has_value());
  const std::string again = drpc::EncodeErrorBody(drpc::ErrorFormat::kGrpcStatus, *e);
  DRPC_CHECK_LE(again.size(), drpc::limits::kGrpcErrorBodyMaxBytes);
  absl::StatusOr<drpc::RemoteError> back =
      drpc::DecodeErrorBody(drpc::ErrorFormat::kGrpcStatus, again);
  DRPC_CHECK(back.ok()) << back.status();
  DRPC_CHECK_EQ(back->code, e->code);
  if (e->text.size() <= drpc::limits::kErrorTextMaxBytes) DRPC_CHECK(back->text == e->text);
  DRPC_CHECK(absl::StartsWith(e->text, back->text));
  size_t i = 0;
  for (const std::string& d : back->details) {
    while (i < e->details.size() && e->details[i] != d) ++i;
    DRPC_CHECK_LT(i, e->details.size()) << "a detail the original did not have";
    ++i;
  }
  return 0;
}
