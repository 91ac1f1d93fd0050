// InvokeMetadata bodies (docs/protocol.md §5.2): the protobuf encoding of map<string, string>, one entry per
// pair:  0x0A varint(L) 0x0A varint(len(key)) key 0x12 varint(len(value)) value.
//
//   Metadata md = {{"key", "value"}};
//   std::string body = EncodeMetadata(md);   // 0A 0C 0A 03 "key" 12 05 "value"
//   absl::StatusOr<Metadata> back = DecodeMetadata(body);
//
// Encoding writes entries in key order (deterministic, unlike Go's random map order; a Go peer
// accepts any order). Both fields are always written, even when empty. An empty map encodes to
// nothing, and senders then omit the InvokeMetadata packet altogether.
//
// Decoding is as strict as Go's: every entry must be 0x0A + valid length, and inside exactly a
// 0x0A key field followed by a 0x12 value field, nothing else. Anything else is kInvalidArgument
// "invalid metadata: <what> at offset N". Duplicate keys: the last one wins. An empty body is an
// empty map. Bodies over limits::kMetadataMaxBytes or with more than
// limits::kMetadataEntriesMaxCount entries are kResourceExhausted.
#ifndef DRPC_PROTO_METADATA_H_
#define DRPC_PROTO_METADATA_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

// Keys and values are opaque bytes. Ordered, so iteration and encoding are deterministic.
using Metadata = std::map<std::string, std::string, std::less<>>;

std::string EncodeMetadata(const Metadata& metadata);
// EncodeMetadata's bytes appended to `out` (what was there is kept): lets a caller reuse a
// buffer's capacity.
void AppendEncodedMetadata(const Metadata& metadata, std::string& out);
void AppendMetadataEntry(std::string& out, absl::string_view key, absl::string_view value);

absl::StatusOr<Metadata> DecodeMetadata(absl::string_view body);

// DecodeMetadata into `out`, whose entries are replaced, with the same errors. Its map nodes and
// their strings' capacity are reused, so a caller that decodes many bodies into one map
// allocates only when a body holds more entries, or longer keys or values, than the map held:
// an entry whose key equals the next old key (in order) keeps that node and only its value is
// assigned. On an error `out` is empty.
absl::Status DecodeMetadataInto(absl::string_view body, Metadata& out);

}  // namespace drpc

#endif  // DRPC_PROTO_METADATA_H_
