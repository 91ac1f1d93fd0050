// Private helper of the proto encoders (not part of the public API).
#ifndef DRPC_PROTO_APPEND_UTIL_H_
#define DRPC_PROTO_APPEND_UTIL_H_

#include <algorithm>
#include <cstddef>
#include <string>

namespace drpc::proto_internal {

// Makes room for `extra` more bytes in `out` without defeating geometric growth: an exact
// reserve() per append is quadratic on standard libraries whose reserve() allocates exactly
// what was asked (libc++), when callers append many frames to one buffer.
inline void ReserveForAppend(std::string& out, size_t extra) {
  if (out.capacity() - out.size() >= extra) return;
  out.reserve(std::max(out.size() + extra, 2 * out.capacity()));
}

// Grows `out` by `extra` bytes (zeroed, growing as ReserveForAppend does) and returns where they
// start, for the caller to fill: one resize instead of an append per piece of an encoding.
inline char* GrowBy(std::string& out, size_t extra) {
  ReserveForAppend(out, extra);
  const size_t at = out.size();
  out.resize(at + extra);
  return out.data() + at;
}

}  // namespace drpc::proto_internal

#endif  // DRPC_PROTO_APPEND_UTIL_H_
