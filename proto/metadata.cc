#include "proto/metadata.h"

#include <cstring>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/append_util.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/varint.h"

namespace drpc {
namespace {

// Protobuf tags of `message { map<string,string> data = 1; }`: field 1 and, inside each map
// entry, key = field 1 and value = field 2, all wire type 2 (length-delimited).
constexpr uint8_t kEntryTag = 0x0A;
constexpr uint8_t kKeyTag = 0x0A;
constexpr uint8_t kValueTag = 0x12;

size_t FieldSize(size_t len) { return 1 + VarintSize(len) + len; }

absl::Status Invalid(absl::string_view what, size_t offset) {
  return absl::InvalidArgumentError(absl::StrCat("invalid metadata: ", what, " at offset ", offset));
}

// Reads `tag varint(len) bytes` at body[*pos] (which must lie before `end`); `name` is the field.
// Called for a field ReadFieldFast rejected, so it returns that field's error.
ABSL_ATTRIBUTE_NOINLINE absl::Status ReadField(absl::string_view body, size_t end, uint8_t tag,
                                               const char* name, size_t* pos,
                                               absl::string_view* out) {
  const size_t start = *pos;
  if (start >= end) return Invalid(absl::StrCat("missing ", name, " field"), start);
  const uint8_t got = static_cast<uint8_t>(body[start]);
  if (got != tag) {
    return Invalid(absl::StrFormat("expected %s tag 0x%02X, got 0x%02X", name, tag, got), start);
  }
  uint64_t len = 0;
  size_t n = 0;
  const absl::string_view rest = body.substr(start + 1, end - start - 1);
  if (DecodeVarint(rest, &len, &n) != VarintStatus::kOk) {
    return Invalid(absl::StrCat("bad ", name, " length varint"), start + 1);
  }
  if (len > rest.size() - n) {
    return Invalid(absl::StrCat(name, " length ", len, " exceeds the ", rest.size() - n,
                                " bytes left"),
                   start + 1);
  }
  *out = rest.substr(n, static_cast<size_t>(len));
  *pos = start + 1 + n + static_cast<size_t>(len);
  return absl::OkStatus();
}

// ReadField's common case, inline: true with *out and *pos set for a well-formed field; false
// (nothing set) for anything else, which ReadField then reports.
inline bool ReadFieldFast(absl::string_view body, size_t end, uint8_t tag, size_t* pos,
                          absl::string_view* out) {
  const size_t start = *pos;
  if (start >= end || static_cast<uint8_t>(body[start]) != tag) return false;
  uint64_t len = 0;
  size_t n = 0;
  const absl::string_view rest = body.substr(start + 1, end - start - 1);
  if (DecodeVarint(rest, &len, &n) != VarintStatus::kOk || len > rest.size() - n) return false;
  *out = rest.substr(n, static_cast<size_t>(len));
  *pos = start + 1 + n + static_cast<size_t>(len);
  return true;
}

}  // namespace

void AppendMetadataEntry(std::string& out, absl::string_view key, absl::string_view value) {
  const size_t inner = FieldSize(key.size()) + FieldSize(value.size());
  // One resize, then the entry written in place.
  char* to = proto_internal::GrowBy(out, FieldSize(inner));
  *to++ = static_cast<char>(kEntryTag);
  to += EncodeVarint(inner, to);
  *to++ = static_cast<char>(kKeyTag);
  to += EncodeVarint(key.size(), to);
  if (!key.empty()) std::memcpy(to, key.data(), key.size());
  to += key.size();
  *to++ = static_cast<char>(kValueTag);
  to += EncodeVarint(value.size(), to);
  if (!value.empty()) std::memcpy(to, value.data(), value.size());
}

void AppendEncodedMetadata(const Metadata& metadata, std::string& out) {
  size_t total = 0;
  for (const auto& [key, value] : metadata) {
    total += FieldSize(FieldSize(key.size()) + FieldSize(value.size()));
  }
  const size_t start = out.size();
  out.reserve(start + total);
  for (const auto& [key, value] : metadata) AppendMetadataEntry(out, key, value);
  DRPC_DCHECK_EQ(out.size() - start, total);
}

std::string EncodeMetadata(const Metadata& metadata) {
  std::string out;
  AppendEncodedMetadata(metadata, out);
  return out;
}

absl::StatusOr<Metadata> DecodeMetadata(absl::string_view body) {
  if (body.size() > limits::kMetadataMaxBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("invalid metadata: body of ", body.size(),
                                                     " bytes exceeds the limit of ",
                                                     limits::kMetadataMaxBytes, " bytes"));
  }
  Metadata metadata;
  size_t pos = 0;
  size_t entries = 0;
  while (pos < body.size()) {
    if (entries == limits::kMetadataEntriesMaxCount) {
      return absl::ResourceExhaustedError(
          absl::StrCat("invalid metadata: more than ", limits::kMetadataEntriesMaxCount,
                       " entries (entry ", entries + 1, " at offset ", pos, ")"));
    }
    absl::string_view entry;
    if (!ReadFieldFast(body, body.size(), kEntryTag, &pos, &entry)) {
      return ReadField(body, body.size(), kEntryTag, "entry", &pos, &entry);
    }
    // Offsets inside the entry are reported relative to the whole body.
    const size_t entry_end = pos;
    size_t inner = entry_end - entry.size();
    absl::string_view key;
    absl::string_view value;
    if (!ReadFieldFast(body, entry_end, kKeyTag, &inner, &key)) {
      return ReadField(body, entry_end, kKeyTag, "key", &inner, &key);
    }
    if (!ReadFieldFast(body, entry_end, kValueTag, &inner, &value)) {
      return ReadField(body, entry_end, kValueTag, "value", &inner, &value);
    }
    if (inner != entry_end) {
      return Invalid(absl::StrCat(entry_end - inner, " unexpected bytes after the value field"),
                     inner);
    }
    metadata.insert_or_assign(std::string(key), std::string(value));
    ++entries;
  }
  return metadata;
}

}  // namespace drpc
