#include "proto/splitter.h"

#include <algorithm>
#include <cstring>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "proto/append_util.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/varint.h"

namespace drpc {
namespace {

// A header of at most this many bytes (every header whose IDs and length are under 2^14) is
// appended as this many and then cut to its length.
constexpr size_t kFixedHeaderBytes = 8;

inline void CheckSplit(size_t split_bytes) {
  DRPC_CHECK_GE(split_bytes, limits::kSplitMinBytes);
  DRPC_CHECK_LE(split_bytes, limits::kSplitMaxBytes);
}

}  // namespace

size_t PacketWireSize(PacketId id, Kind kind, size_t data_bytes, size_t split_bytes) {
  CheckSplit(split_bytes);
  const size_t ids = 1 + VarintSize(id.stream) + VarintSize(id.message);
  if (!IsSplittableKind(kind) || data_bytes <= split_bytes) {
    return ids + VarintSize(data_bytes) + data_bytes;
  }
  const size_t full_frames = data_bytes / split_bytes;
  const size_t tail = data_bytes % split_bytes;
  size_t total = full_frames * (ids + VarintSize(split_bytes)) + data_bytes;
  if (tail > 0) total += ids + VarintSize(tail);
  return total;
}

namespace {

// AppendPacket's general case, for packets of several frames (and split sizes out of range,
// which CheckSplit reports).
ABSL_ATTRIBUTE_NOINLINE void AppendPacketFrames(std::string& out, PacketId id, Kind kind,
                                                absl::string_view data, bool control,
                                                size_t split_bytes) {
  CheckSplit(split_bytes);
  proto_internal::ReserveForAppend(out, PacketWireSize(id, kind, data.size(), split_bytes));
  PacketSplitter splitter(id, kind, data, control, split_bytes);
  while (!splitter.done()) splitter.AppendNextFrame(out);
}

}  // namespace

void AppendPacket(std::string& out, PacketId id, Kind kind, absl::string_view data, bool control,
                  size_t split_bytes) {
  if (ABSL_PREDICT_FALSE(data.size() > split_bytes || split_bytes < limits::kSplitMinBytes ||
                         split_bytes > limits::kSplitMaxBytes)) {
    AppendPacketFrames(out, id, kind, data, control, split_bytes);
    return;
  }
  // One frame, nearly every packet: exactly what the splitter emits for it (its only frame is
  // done).
  char header[limits::kFrameHeaderMaxBytes];
  std::memset(header, 0, kFixedHeaderBytes);
  const size_t n = EncodeFrameHeader(id, kind, /*done=*/true, control, data.size(), header);
  proto_internal::ReserveForAppend(out, n + data.size());
  if (n <= kFixedHeaderBytes && out.capacity() - out.size() >= kFixedHeaderBytes) {
    // A fixed-size copy is a single store where a copy of n bytes is a memcpy call; the bytes
    // past the header are cut off again (within the capacity reserved above, so nothing grows).
    out.append(header, kFixedHeaderBytes);
    out.erase(out.size() - (kFixedHeaderBytes - n));
  } else {
    out.append(header, n);
  }
  out.append(data.data(), data.size());
}

PacketSplitter::PacketSplitter(PacketId id, Kind kind, absl::string_view data, bool control,
                               size_t split_bytes)
    : id_(id), kind_(kind), data_(data), control_(control), split_bytes_(split_bytes) {
  CheckSplit(split_bytes);
}

size_t PacketSplitter::NextFrameBytes(size_t data_max_bytes) const {
  DRPC_CHECK(!done_) << "packet " << PacketIdString(id_) << " already fully emitted";
  const size_t remaining = data_.size() - offset_;
  size_t n = remaining;
  if (IsSplittableKind(kind_)) {
    n = std::min({remaining, split_bytes_, data_max_bytes});
    DRPC_CHECK(n > 0 || remaining == 0)
        << "data_max_bytes is 0 with " << remaining << " bytes left";
  }
  return n;
}

absl::string_view PacketSplitter::AppendNextFrameHeader(std::string& out, size_t data_max_bytes) {
  const size_t n = NextFrameBytes(data_max_bytes);
  done_ = offset_ + n == data_.size();
  char header[limits::kFrameHeaderMaxBytes];
  out.append(header, EncodeFrameHeader(id_, kind_, done_, control_, n, header));
  const absl::string_view data = data_.substr(offset_, n);
  offset_ += n;
  return data;
}

size_t PacketSplitter::AppendNextFrame(std::string& out, size_t data_max_bytes) {
  const size_t n = NextFrameBytes(data_max_bytes);
  done_ = offset_ + n == data_.size();
  AppendFrame(out, Frame{.id = id_,
                         .kind = kind_,
                         .done = done_,
                         .control = control_,
                         .data = data_.substr(offset_, n)});
  offset_ += n;
  return n;
}

}  // namespace drpc
