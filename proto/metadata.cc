#include "proto/metadata.h"

#include <cstring>
#include <tuple>
#include <utility>

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
// (nothing set) for anything else, which ReadField then reports. A one-byte length, the common
// case, is decoded here; longer ones go through DecodeVarint.
inline bool ReadFieldFast(absl::string_view body, size_t end, uint8_t tag, size_t* pos,
                          absl::string_view* out) {
  const size_t start = *pos;
  if (end < start + 2 || static_cast<uint8_t>(body[start]) != tag) return false;
  uint64_t len = static_cast<uint8_t>(body[start + 1]);
  size_t n = 1;
  const absl::string_view rest = body.substr(start + 1, end - start - 1);
  if (len >= 0x80 && DecodeVarint(rest, &len, &n) != VarintStatus::kOk) return false;
  if (len > rest.size() - n) return false;
  *out = rest.substr(n, static_cast<size_t>(len));
  *pos = start + 1 + n + static_cast<size_t>(len);
  return true;
}

// Bytes of an entry's content (its key and value fields).
inline size_t EntryInnerSize(absl::string_view key, absl::string_view value) {
  return FieldSize(key.size()) + FieldSize(value.size());
}

// Writes one entry whose content is `inner` bytes at `to`, which has room for FieldSize(inner)
// bytes; returns the end of what it wrote.
inline char* WriteEntry(char* to, size_t inner, absl::string_view key, absl::string_view value) {
  *to++ = static_cast<char>(kEntryTag);
  to += EncodeVarint(inner, to);
  *to++ = static_cast<char>(kKeyTag);
  to += EncodeVarint(key.size(), to);
  if (!key.empty()) std::memcpy(to, key.data(), key.size());
  to += key.size();
  *to++ = static_cast<char>(kValueTag);
  to += EncodeVarint(value.size(), to);
  if (!value.empty()) std::memcpy(to, value.data(), value.size());
  return to + value.size();
}

// Adds a decoded entry to a map being refilled. While the body's keys equal the old entries' keys
// in order (a connection's calls usually carry the same keys), each keeps its node and only its
// value is assigned; `keep` is the next old entry. At the first other key the old entries left
// become spare nodes, which later entries take (key and value assigned into their strings)
// before any new node is allocated. A duplicate key replaces the earlier value.
class Refill {
 public:
  explicit Refill(Metadata& out) : out_(out), keep_(out.begin()) {}

  void Add(absl::string_view key, absl::string_view value) {
    if (keep_ != out_.end() && keep_->first == key) {
      keep_->second.assign(value.data(), value.size());
      ++keep_;
      return;
    }
    while (keep_ != out_.end()) spare_.insert(spare_.end(), out_.extract(keep_++));
    if (spare_.empty()) return Insert(key, value);
    Metadata::node_type node = spare_.extract(spare_.begin());
    node.key().assign(key.data(), key.size());
    node.mapped().assign(value.data(), value.size());
    // The hint is the end: keys usually arrive in order (EncodeMetadata writes them so), and the
    // map then checks the new key against its last one instead of searching. A duplicate leaves
    // the node in `node` (freed here).
    const auto it = out_.insert(out_.end(), std::move(node));
    if (!node.empty()) it->second.assign(value.data(), value.size());
  }

  // The body is decoded: old entries it did not repeat go.
  void Finish() { out_.erase(keep_, out_.end()); }

 private:
  void Insert(absl::string_view key, absl::string_view value) {
    const size_t count = out_.size();
    const auto it = out_.emplace_hint(out_.end(), std::piecewise_construct,
                                      std::forward_as_tuple(key.data(), key.size()),
                                      std::forward_as_tuple(value.data(), value.size()));
    if (out_.size() == count) it->second.assign(value.data(), value.size());
  }

  Metadata& out_;
  Metadata::iterator keep_;
  Metadata spare_;
};

// DecodeMetadataInto's body; on an error `out` holds what was decoded before it.
absl::Status Decode(absl::string_view body, Metadata& out) {
  if (body.size() > limits::kMetadataMaxBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("invalid metadata: body of ", body.size(),
                                                     " bytes exceeds the limit of ",
                                                     limits::kMetadataMaxBytes, " bytes"));
  }
  Refill refill(out);
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
    refill.Add(key, value);
    ++entries;
  }
  refill.Finish();
  return absl::OkStatus();
}

}  // namespace

void AppendMetadataEntry(std::string& out, absl::string_view key, absl::string_view value) {
  const size_t inner = EntryInnerSize(key, value);
  // One resize, then the entry written in place.
  WriteEntry(proto_internal::GrowBy(out, FieldSize(inner)), inner, key, value);
}

void AppendEncodedMetadata(const Metadata& metadata, std::string& out) {
  size_t total = 0;
  for (const auto& [key, value] : metadata) total += FieldSize(EntryInnerSize(key, value));
  // One resize for the whole body, then every entry written in place.
  char* to = proto_internal::GrowBy(out, total);
  char* const end = to + total;
  for (const auto& [key, value] : metadata) {
    to = WriteEntry(to, EntryInnerSize(key, value), key, value);
  }
  DRPC_CHECK(to == end);
}

std::string EncodeMetadata(const Metadata& metadata) {
  std::string out;
  AppendEncodedMetadata(metadata, out);
  return out;
}

absl::StatusOr<Metadata> DecodeMetadata(absl::string_view body) {
  Metadata metadata;
  if (absl::Status s = DecodeMetadataInto(body, metadata); !s.ok()) return s;
  return metadata;
}

absl::Status DecodeMetadataInto(absl::string_view body, Metadata& out) {
  absl::Status s = Decode(body, out);
  if (!s.ok()) out.clear();
  return s;
}

}  // namespace drpc
