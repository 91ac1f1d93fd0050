#include "proto/minlz.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/base/status.h"
#include "proto/limits.h"
#include "proto/snappy_block.h"
#include "proto/varint.h"

namespace drpc {
namespace {

// Element tags (low two bits of the first byte).
constexpr uint8_t kTagLiteral = 0;  // bit 2 set: repeat the last offset
constexpr uint8_t kTagCopy1 = 1;
constexpr uint8_t kTagCopy2 = 2;
constexpr uint8_t kTagCopy3 = 3;    // bit 2 clear: fused Copy2
constexpr uint64_t kCopy1OffsetMax = 1024;
constexpr uint64_t kCopy1LengthMax = 18 + 255;
constexpr uint64_t kCopy2OffsetMin = 64;
constexpr uint64_t kCopy2OffsetMax = 65535 + kCopy2OffsetMin;
constexpr uint64_t kCopy3OffsetMin = 65536;
constexpr uint64_t kCopy3OffsetMax = (uint64_t{1} << 21) - 1 + kCopy3OffsetMin;
constexpr size_t kMatchMinBytes = 4;
// Output reserved before decoding; beyond it the output grows as it is produced.
constexpr uint64_t kDecodeReserveMaxBytes = 64 * 1024;

uint64_t LoadLe(absl::string_view in, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}

void AppendLe(std::string& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// --- Encoder ------------------------------------------------------------------------------------

// Literal and repeat lengths: 1..29 in the tag, else 30 + 1..3 little-endian bytes.
void AppendLiteralOrRepeat(std::string& out, uint64_t length, bool repeat) {
  DRPC_DCHECK(length >= 1);
  const uint8_t flag = repeat ? 4 : 0;
  if (length <= 29) {
    out.push_back(static_cast<char>(((length - 1) << 3) | flag | kTagLiteral));
    return;
  }
  const uint64_t extra = length - 30;
  const size_t n = extra < (1 << 8) ? 1 : extra < (1 << 16) ? 2 : 3;
  DRPC_DCHECK_LT(extra, uint64_t{1} << 24);
  out.push_back(static_cast<char>(((28 + n) << 3) | flag | kTagLiteral));
  AppendLe(out, extra, n);
}

void AppendLiterals(std::string& out, absl::string_view literals) {
  if (literals.empty()) return;
  AppendLiteralOrRepeat(out, literals.size(), /*repeat=*/false);
  out.append(literals.data(), literals.size());
}

// Copy2/Copy3 lengths: 4..64 in the tag field (value - 4, at most 60), else 61..63 announce 1..3
// little-endian bytes of length - 64.
uint64_t LongLengthField(uint64_t length, uint64_t* extra, size_t* extra_bytes) {
  if (length <= 64) {
    *extra_bytes = 0;
    return length - 4;
  }
  *extra = length - 64;
  *extra_bytes = *extra < (1 << 8) ? 1 : *extra < (1 << 16) ? 2 : 3;
  return 60 + *extra_bytes;
}

void AppendCopy(std::string& out, uint64_t offset, uint64_t length, uint64_t* last_offset) {
  DRPC_DCHECK(length >= kMatchMinBytes);
  if (offset == *last_offset) {
    AppendLiteralOrRepeat(out, length, /*repeat=*/true);
    return;
  }
  *last_offset = offset;
  uint64_t extra = 0;
  size_t extra_bytes = 0;
  if (offset < kCopy2OffsetMin || (offset <= kCopy1OffsetMax && length <= 18)) {
    const uint64_t first = std::min(length, kCopy1LengthMax);
    const uint64_t o = offset - 1;
    const uint64_t field = first <= 18 ? first - 4 : 15;
    out.push_back(static_cast<char>(((o & 3) << 6) | (field << 2) | kTagCopy1));
    out.push_back(static_cast<char>(o >> 2));
    if (field == 15) out.push_back(static_cast<char>(first - 18));
    // The rest continues at the same offset.
    if (length > first) AppendLiteralOrRepeat(out, length - first, /*repeat=*/true);
  } else if (offset <= kCopy2OffsetMax) {
    const uint64_t field = LongLengthField(length, &extra, &extra_bytes);
    out.push_back(static_cast<char>((field << 2) | kTagCopy2));
    AppendLe(out, offset - kCopy2OffsetMin, 2);
    AppendLe(out, extra, extra_bytes);
  } else {
    DRPC_DCHECK_LE(offset, kCopy3OffsetMax);
    const uint64_t field = LongLengthField(length, &extra, &extra_bytes);
    const uint64_t word = ((offset - kCopy3OffsetMin) << 11) | (field << 5) | 4 | kTagCopy3;
    AppendLe(out, word, 4);
    AppendLe(out, extra, extra_bytes);
  }
}

// Four input bytes as a little-endian word (the hash key and match test of the encoder).
uint32_t Load32(absl::string_view in, size_t at) {
  uint8_t b[4];
  std::memcpy(b, in.data() + at, 4);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

// How many bytes from `a` and `b` agree, at most `max`: eight at a time, then byte by byte.
size_t MatchLength(const char* a, const char* b, size_t max) {
  size_t n = 0;
  while (max - n >= 8) {
    uint64_t x = 0;
    uint64_t y = 0;
    std::memcpy(&x, a + n, 8);
    std::memcpy(&y, b + n, 8);
    if (x != y) break;
    n += 8;
  }
  while (n < max && a[n] == b[n]) ++n;
  return n;
}

uint32_t HashOf(uint32_t four_bytes, int bits) {
  return (four_bytes * 0x1E35A7BDu) >> (32 - bits);
}

// The elements of `src` (after the header), greedy: the first 4-byte match the hash table knows.
std::string EncodeElements(absl::string_view src) {
  // 2^14 entries for large inputs; a small message gets a table about its own size, so encoding
  // it does not clear 64 KiB first.
  constexpr int kHashBitsMax = 14;
  constexpr int kHashBitsMin = 6;
  int hash_bits = kHashBitsMin;
  while (hash_bits < kHashBitsMax && (size_t{1} << hash_bits) < src.size()) ++hash_bits;
  std::vector<uint32_t> table(size_t{1} << hash_bits, 0);  // position + 1; 0 = empty
  std::string out;
  out.reserve(src.size());
  uint64_t last_offset = 1;
  size_t literal_start = 0;
  size_t i = 0;
  while (src.size() >= kMatchMinBytes && i <= src.size() - kMatchMinBytes) {
    const uint32_t here = Load32(src, i);
    uint32_t& slot = table[HashOf(here, hash_bits)];
    const size_t candidate = slot;
    slot = static_cast<uint32_t>(i + 1);
    if (candidate != 0 && i - (candidate - 1) <= kCopy3OffsetMax &&
        Load32(src, candidate - 1) == here) {
      const size_t from = candidate - 1;
      const size_t length =
          kMatchMinBytes + MatchLength(src.data() + from + kMatchMinBytes,
                                       src.data() + i + kMatchMinBytes,
                                       src.size() - i - kMatchMinBytes);
      AppendLiterals(out, src.substr(literal_start, i - literal_start));
      AppendCopy(out, i - from, length, &last_offset);
      i += length;
      literal_start = i;
      continue;
    }
    // Skip faster through data that does not compress (Snappy's heuristic).
    i += 1 + ((i - literal_start) >> 5);
  }
  AppendLiterals(out, src.substr(literal_start));
  return out;
}

// --- Decoder ------------------------------------------------------------------------------------

struct Header {
  bool snappy = false;
  bool stored = false;
  uint64_t length = 0;     // uncompressed
  absl::string_view body;  // the elements (MinLZ), the stored bytes, or the whole Snappy block
};

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("minlz: ", what));
}

absl::StatusOr<Header> ParseHeader(absl::string_view block) {
  if (block.empty()) return Corrupt("empty block");
  Header h;
  if (block[0] != 0) {
    absl::StatusOr<uint64_t> length = SnappyDecodedLength(block);
    if (!length.ok()) return length.status();
    return Header{.snappy = true, .length = *length, .body = block};
  }
  if (block.size() == 1) return h;  // the empty block
  uint64_t length = 0;
  size_t n = 0;
  // As Go's binary.Uvarint: a 10th byte may only hold bit 63.
  if (DecodeVarint(block.substr(1), &length, &n) != VarintStatus::kOk ||
      (n == limits::kVarintMaxBytes && static_cast<uint8_t>(block[n]) > 1) ||
      length > limits::kSnappyBlockMaxBytes) {
    return Corrupt("invalid uncompressed length");
  }
  if (length > limits::kMinLzBlockMaxBytes) {
    return Corrupt(absl::StrCat("uncompressed length ", length, " exceeds the block limit of ",
                                limits::kMinLzBlockMaxBytes, " bytes"));
  }
  h.body = block.substr(1 + n);
  if (h.body.empty()) return Corrupt("no data after the uncompressed length");
  if (length == 0) {
    h.stored = true;
    h.length = h.body.size();
    return h;
  }
  if (length < h.body.size()) {
    return Corrupt(absl::StrCat(h.body.size(), " compressed bytes for an uncompressed length of ",
                                length));
  }
  h.length = length;
  return h;
}

// Reads elements one at a time; every read is bounds-checked against the input.
class ElementReader {
 public:
  explicit ElementReader(absl::string_view src) : src_(src) {}

  bool done() const { return s_ >= src_.size(); }
  size_t pos() const { return s_; }

  // The next element: `literals` input bytes (at literal_pos()) to emit, then a copy of `length`
  // bytes at offset(). A plain literal run has length 0.
  absl::Status Next(uint64_t* literals, uint64_t* length) {
    const uint8_t tag = static_cast<uint8_t>(src_[s_]);
    *literals = 0;
    *length = 0;
    switch (tag & 3) {
      case kTagLiteral:
        return ReadLiteralOrRepeat(tag, literals, length);
      case kTagCopy1:
        return ReadCopy1(tag, length);
      default:
        return ReadCopy2Or3(tag, literals, length);
    }
  }

  // Consumes `n` literal bytes (checked by Next) and returns where they start.
  size_t TakeLiterals(uint64_t n) {
    const size_t at = s_;
    s_ += n;
    return at;
  }
  uint64_t offset() const { return offset_; }

 private:
  absl::Status Truncated(absl::string_view what) const {
    return Corrupt(absl::StrCat(what, " truncated at input offset ", s_));
  }
  bool Has(size_t n) const { return src_.size() - s_ >= n; }

  absl::Status ReadLiteralOrRepeat(uint8_t tag, uint64_t* literals, uint64_t* length) {
    const uint64_t x = tag >> 3;
    uint64_t n = x + 1;
    if (x >= 29) {
      const size_t k = x - 28;
      if (!Has(1 + k)) return Truncated("literal length");
      n = LoadLe(src_, s_ + 1, k) + 30;
      s_ += k;
    }
    s_ += 1;
    if ((tag & 4) != 0) {
      *length = n;  // a repeat: a copy at the last offset
      return absl::OkStatus();
    }
    if (!Has(n)) return Truncated("literals");
    *literals = n;
    return absl::OkStatus();
  }

  absl::Status ReadCopy1(uint8_t tag, uint64_t* length) {
    if (!Has(2)) return Truncated("copy1");
    const uint64_t field = (tag >> 2) & 15;
    offset_ = ((uint64_t{static_cast<uint8_t>(src_[s_ + 1])} << 2) | (tag >> 6)) + 1;
    s_ += 2;
    *length = field + 4;
    if (field == 15) {
      if (!Has(1)) return Truncated("copy1 length");
      *length = static_cast<uint8_t>(src_[s_]) + 18;
      s_ += 1;
    }
    return absl::OkStatus();
  }

  absl::Status ReadCopy2Or3(uint8_t tag, uint64_t* literals, uint64_t* length) {
    const bool copy3 = (tag & 3) == kTagCopy3 && (tag & 4) != 0;
    const bool fused2 = (tag & 3) == kTagCopy3 && !copy3;
    uint64_t field = 0;
    if (copy3) {
      if (!Has(4)) return Truncated("copy3");
      const uint64_t word = LoadLe(src_, s_, 4);
      *literals = (word >> 3) & 3;
      field = (word >> 5) & 63;
      offset_ = (word >> 11) + kCopy3OffsetMin;
      s_ += 4;
    } else {
      if (!Has(3)) return Truncated("copy2");
      offset_ = LoadLe(src_, s_ + 1, 2) + kCopy2OffsetMin;
      s_ += 3;
      if (fused2) {
        *literals = ((tag >> 3) & 3) + 1;
        *length = ((tag >> 5) & 7) + 4;
      } else {
        field = tag >> 2;
      }
    }
    if (!fused2) {
      *length = field + 4;
      if (field > 60) {
        const size_t k = field - 60;
        if (!Has(k)) return Truncated("copy length");
        *length = LoadLe(src_, s_, k) + 64;
        s_ += k;
      }
    }
    if (!Has(*literals)) return Truncated("fused literals");
    return absl::OkStatus();
  }

  absl::string_view src_;
  size_t s_ = 0;
  uint64_t offset_ = 1;  // the repeat offset starts at 1
};

// Copies `length` bytes to out[at..] from `offset` bytes back, in forward byte order: an offset
// shorter than the length repeats the pattern. Done in chunks, each at most as long as the
// distance to its source (so source and destination never overlap), the distance doubling as the
// pattern is laid out: O(log length) memcpy calls instead of a loop per byte.
void CopyForward(char* out, size_t at, uint64_t offset, uint64_t length) {
  DRPC_DCHECK(offset >= 1 && offset <= at);
  uint64_t distance = offset;
  while (length > 0) {
    const uint64_t n = std::min(length, distance);
    std::memcpy(out + at, out + at - distance, n);
    at += n;
    length -= n;
    distance += n;  // the bytes just written repeat the pattern too
  }
}

// Decodes elements into `dst` (empty), which must come to exactly `want` bytes. The output grows
// as elements produce it rather than being allocated at the stated length up front: a short
// block that states megabytes and then fails costs what it decoded, not what it claimed. Every
// read and write is checked.
absl::Status DecodeElements(absl::string_view src, uint64_t want, std::string& dst) {
  DRPC_DCHECK(dst.empty());
  // A few times the input is what most blocks decode to; more is grown into as it is produced.
  dst.reserve(std::min<uint64_t>(want, std::min<uint64_t>(4 * src.size(), kDecodeReserveMaxBytes)));
  size_t d = 0;
  ElementReader reader(src);
  while (!reader.done()) {
    uint64_t literals = 0;
    uint64_t length = 0;
    DRPC_RETURN_IF_ERROR(reader.Next(&literals, &length));
    if (literals > want - d) {
      return Corrupt(
          absl::StrCat(literals, " literals at output ", d, " exceed the length ", want));
    }
    dst.append(src.data() + reader.TakeLiterals(literals), literals);
    d += literals;
    if (length == 0) continue;
    const uint64_t offset = reader.offset();
    if (offset > d) {
      return Corrupt(absl::StrCat("copy offset ", offset, " at output ", d,
                                  " reaches before the start"));
    }
    if (length > want - d) {
      return Corrupt(
          absl::StrCat("copy of ", length, " at output ", d, " exceeds the length ", want));
    }
    dst.resize(d + length);
    CopyForward(dst.data(), d, offset, length);
    d += length;
  }
  if (d != want) return Corrupt(absl::StrCat("decoded ", d, " bytes, the block states ", want));
  return absl::OkStatus();
}

}  // namespace

std::string MinLzEncodeBlock(absl::string_view src) {
  DRPC_CHECK_LE(src.size(), limits::kMinLzBlockMaxBytes);
  std::string out(1, '\0');
  if (src.empty()) return out;
  std::string elements = EncodeElements(src);
  // A stored block (length 0, then the bytes themselves) is n + 2 bytes and the cheapest to
  // decode: compressed elements must beat it. That also keeps them below the stated length, as
  // decoders require.
  if (VarintSize(src.size()) + elements.size() >= src.size() + 1) {
    out.push_back('\0');
    out.append(src.data(), src.size());
    return out;
  }
  AppendVarint(out, src.size());
  out += elements;
  return out;
}

absl::StatusOr<uint64_t> MinLzDecodedLength(absl::string_view block) {
  absl::StatusOr<Header> h = ParseHeader(block);
  if (!h.ok()) return h.status();
  return h->length;
}

absl::Status MinLzDecodeBlock(absl::string_view block, size_t max_bytes, std::string* out) {
  absl::StatusOr<Header> h = ParseHeader(block);
  if (!h.ok()) return h.status();
  if (h->length > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("minlz: the block decompresses to ", h->length,
                     " bytes, which exceeds the limit of ", max_bytes, " bytes"));
  }
  if (h->snappy) return SnappyDecodeBlock(block, max_bytes, out);
  if (h->stored || h->length == 0) {
    out->assign(h->body.data(), h->body.size());
    return absl::OkStatus();
  }
  out->clear();
  absl::Status s = DecodeElements(h->body, h->length, *out);
  if (!s.ok()) out->clear();
  return s;
}

}  // namespace drpc
