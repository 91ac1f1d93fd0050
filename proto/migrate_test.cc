// The drpcmigrate connection prefix (docs/protocol.md §10).
#include "proto/migrate.h"

#include "gtest/gtest.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

TEST(MigrateTest, HeaderIsTheEightAsciiBytesDrpcBangBangBangOne) {
  EXPECT_EQ(testing::Hex(kMigrateHeader), "44 52 50 43 21 21 21 31");
  EXPECT_EQ(kMigrateHeader.size(), limits::kMigrateHeaderBytes);
}

TEST(MigrateTest, HeaderCannotBeMistakenForADrpcFrameStart) {
  // 'D' = 0x44 parses as a non-done Kind(34) frame header: a server that does not strip the
  // prefix sees an unknown non-control kind, not a plausible Invoke.
  EXPECT_FALSE(IsKnownKind(static_cast<Kind>((kMigrateHeader[0] & kHeaderKindMask) >> 1)));
}

}  // namespace
}  // namespace drpc
