// ReadSizer: how many bytes the connection reader asks the transport for. Starts at `min` and
// doubles (up to `max`) while reads come back full, so a bulk transfer needs fewer, larger reads
// (and fewer reader wake-ups); halves (down to `min`) after a read that returned less than half of
// what was asked, so an idle or chatty connection goes back to small reads. Deterministic: it
// sees only the sizes.
//
//   ReadSizer sizer(64 * 1024, 1024 * 1024);
//   char* buf = parser.PrepareAppend(sizer.next());
//   n = transport.Read(buf, sizer.next());
//   sizer.OnRead(n);
#ifndef DRPC_IMPL_READ_SIZER_H_
#define DRPC_IMPL_READ_SIZER_H_

#include <algorithm>
#include <cstddef>

#include "proto/base/check.h"

namespace drpc {

class ReadSizer {
 public:
  ReadSizer(size_t min, size_t max) : min_(min), max_(max), next_(min) {
    DRPC_CHECK_GT(min, 0u);
    DRPC_CHECK_LE(min, max);
  }

  // The size of the next read, in [min, max].
  size_t next() const { return next_; }

  // Reports that the last read (of next() bytes) returned `got` bytes.
  void OnRead(size_t got) {
    if (got >= next_) {
      next_ = std::min(next_ * 2, max_);
    } else if (got < next_ / 2) {
      next_ = std::max(next_ / 2, min_);
    }
  }

 private:
  size_t min_;
  size_t max_;
  size_t next_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_READ_SIZER_H_
