// rapidcheck generators for wire-format values, shared by the property tests.
//
//   const auto frames = *GenFrames(30);            // inside an RC_GTEST_PROP body
//   const auto cuts = *GenSegmentation(wire.size());
#ifndef DRPC_PROPERTIES_GENERATORS_H_
#define DRPC_PROPERTIES_GENERATORS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/frame.h"
#include "proto/test_frames.h"
#include "rapidcheck.h"

namespace drpc::properties {

// Any uint64, with the varint size boundaries (2^7k - 1, 2^7k, ...) and 2^64-1 well represented.
rc::Gen<uint64_t> GenU64();

// Frame data: mostly short, sometimes a few KiB, arbitrary bytes.
rc::Gen<std::string> GenData(size_t max_bytes = 300);

// Any frame: IDs from GenU64, any of the 64 kinds, any done/control bits.
rc::Gen<testing::OwnedFrame> GenFrame();

// Sizes of consecutive transport reads covering `total` bytes (each >= 1; one-byte reads and
// reads that straddle several frames are both common).
rc::Gen<std::vector<size_t>> GenSegmentation(size_t total);

}  // namespace drpc::properties

#endif  // DRPC_PROPERTIES_GENERATORS_H_
