#include "proto/protobuf_wire.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/varint.h"

namespace drpc::pb {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 if none starts there
// (Unicode table 3-7: well-formed byte sequences).
size_t Utf8SequenceAt(absl::string_view text, size_t i) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = at(i);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < n) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

void AppendTag(std::string& out, uint32_t field, WireType type) {
  DRPC_CHECK_GE(field, 1u);
  DRPC_CHECK_LE(field, kFieldNumberMax);
  AppendVarint(out, (uint64_t{field} << 3) | static_cast<uint8_t>(type));
}

void AppendVarintField(std::string& out, uint32_t field, uint64_t value) {
  AppendTag(out, field, WireType::kVarint);
  AppendVarint(out, value);
}

void AppendLenField(std::string& out, uint32_t field, absl::string_view bytes) {
  AppendTag(out, field, WireType::kLen);
  AppendVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

bool Reader::Fail(absl::string_view message) {
  error_ = absl::InvalidArgumentError(message);
  return false;
}

bool Reader::ReadVarint(const char* what, uint64_t* value) {
  // Fast path: a one-byte varint (every tag of fields 1..15, every length under 128).
  if (pos_ < in_.size() && static_cast<uint8_t>(in_[pos_]) < 0x80) {
    *value = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  const size_t start = pos_;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= in_.size()) {
      return Fail(absl::StrCat("protobuf: truncated ", what, " at offset ", start));
    }
    const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
    if (i == 9 && b > 1) {
      return Fail(absl::StrCat("protobuf: ", what, " overflows 64 bits at offset ", start));
    }
    v |= uint64_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      *value = v;
      return true;
    }
  }
  return Fail(absl::StrCat("protobuf: ", what, " longer than 10 bytes at offset ", start));
}

bool Reader::Next(Field* field) {
  if (!error_.ok() || pos_ == in_.size()) return false;
  Field& f = *field;
  f = Field();
  f.offset = pos_;
  uint64_t tag = 0;
  if (!ReadVarint("tag", &tag)) return false;
  const uint64_t number = tag >> 3;
  const uint8_t type = tag & 7;
  if (number == 0 || number > kFieldNumberMax) {
    return Fail(absl::StrCat("protobuf: invalid field number ", number, " at offset ", f.offset));
  }
  f.number = static_cast<uint32_t>(number);
  f.type = static_cast<WireType>(type);
  switch (f.type) {
    case WireType::kVarint: {
      return ReadVarint("varint", &f.varint);
    }
    case WireType::kFixed64:
    case WireType::kFixed32: {
      const size_t n = f.type == WireType::kFixed64 ? 8 : 4;
      if (in_.size() - pos_ < n) {
        return Fail(absl::StrCat("protobuf: truncated fixed", n * 8, " field ", f.number,
                                 " at offset ", f.offset));
      }
      for (size_t i = 0; i < n; ++i) {
        f.varint |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
      }
      pos_ += n;
      return true;
    }
    case WireType::kLen: {
      uint64_t len = 0;
      if (!ReadVarint("length", &len)) return false;
      if (len > in_.size() - pos_) {
        return Fail(absl::StrCat("protobuf: field ", f.number, " at offset ", f.offset,
                                 " has length ", len, " but only ", in_.size() - pos_,
                                 " bytes follow"));
      }
      f.bytes = in_.substr(pos_, len);
      pos_ += len;
      return true;
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      return Fail(absl::StrCat("protobuf: group wire type ", type, " (field ", f.number,
                               ") at offset ", f.offset, " is not supported"));
  }
  return Fail(absl::StrCat("protobuf: invalid wire type ", type, " (field ", f.number,
                           ") at offset ", f.offset));
}

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceAt(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ToValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceAt(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace drpc::pb
