#include "proto/varint.h"

#include <algorithm>

#include "proto/base/check.h"
#include "proto/limits.h"

namespace drpc {

VarintStatus DecodeVarint(absl::string_view in, uint64_t* value, size_t* consumed) {
  // One-byte varints dominate real traffic (IDs and short lengths).
  if (!in.empty() && static_cast<uint8_t>(in[0]) < 0x80) {
    *value = static_cast<uint8_t>(in[0]);
    *consumed = 1;
    return VarintStatus::kOk;
  }
  const size_t n = std::min(in.size(), limits::kVarintMaxBytes);
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = static_cast<uint8_t>(in[i]);
    // At i == 9 the shift is 63: only the lowest payload bit survives, the rest is dropped, as
    // Go's reader does (docs/protocol.md §2.2).
    v |= uint64_t{b & 0x7Fu} << (7 * i);
    if (b < 0x80) {
      *value = v;
      *consumed = i + 1;
      return VarintStatus::kOk;
    }
  }
  return in.size() >= limits::kVarintMaxBytes ? VarintStatus::kTooLong : VarintStatus::kIncomplete;
}

}  // namespace drpc
