// Unsigned LEB128 varints exactly as Go drpc reads and writes them (docs/protocol.md §2.2).
//
//   std::string out;
//   AppendVarint(out, 300);                       // out == "\xAC\x02"
//   uint64_t v; size_t n;
//   VarintStatus s = DecodeVarint(out, &v, &n);   // kOk, v == 300, n == 2
//
// Encoding is always minimal. Decoding accepts what Go accepts: non-minimal forms ("\x81\x00" is 1)
// and excess bits in the 10th byte (dropped, so FF×9 7F is 2^64-1). Ten bytes that all carry the
// continuation bit are "too long". A buffer that ends inside a varint is "incomplete", not an error.
#ifndef DRPC_PROTO_VARINT_H_
#define DRPC_PROTO_VARINT_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/limits.h"

namespace drpc {

enum class VarintStatus {
  kOk,          // *value and *consumed are set
  kIncomplete,  // more bytes are needed; nothing is set
  kTooLong,     // 10 bytes with the continuation bit: a protocol error
};

// Bytes AppendVarint writes for `value`: (9 * bitlen(value) + 64) / 64, 1..10. Inline: encoders
// size every field with it.
inline size_t VarintSize(uint64_t value) {
  const size_t bits = 64 - static_cast<size_t>(std::countl_zero(value));
  return (9 * bits + 64) / 64;
}

// Writes the minimal encoding to `dst`, which must have room for VarintSize(value) bytes.
// Returns the number of bytes written. Inline: every frame header is three of these.
inline size_t EncodeVarint(uint64_t value, char* dst) {
  size_t n = 0;
  while (value >= 0x80) {
    dst[n++] = static_cast<char>(static_cast<uint8_t>(value) | 0x80);
    value >>= 7;
  }
  dst[n++] = static_cast<char>(value);
  DRPC_DCHECK_LE(n, limits::kVarintMaxBytes);
  return n;
}

// Appends the minimal encoding of `value`; returns the number of bytes appended.
inline size_t AppendVarint(std::string& out, uint64_t value) {
  char encoded[limits::kVarintMaxBytes];
  const size_t n = EncodeVarint(value, encoded);
  out.append(encoded, n);
  return n;
}

// Decodes one varint from the front of `in`.
VarintStatus DecodeVarint(absl::string_view in, uint64_t* value, size_t* consumed);

}  // namespace drpc

#endif  // DRPC_PROTO_VARINT_H_
