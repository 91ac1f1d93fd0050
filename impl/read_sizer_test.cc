#include "impl/read_sizer.h"

#include "gtest/gtest.h"

namespace drpc {
namespace {

constexpr size_t kKiB = 1024;

TEST(ReadSizerTest, GrowsWhileReadsComeBackFullUpToTheMaximum) {
  ReadSizer s(64 * kKiB, 1024 * kKiB);
  EXPECT_EQ(s.next(), 64 * kKiB);
  size_t expected = 64 * kKiB;
  for (int i = 0; i < 10; ++i) {
    s.OnRead(s.next());
    expected = std::min(expected * 2, 1024 * kKiB);
    EXPECT_EQ(s.next(), expected);
  }
  EXPECT_EQ(s.next(), 1024 * kKiB);
}

TEST(ReadSizerTest, KeepsItsSizeForReadsOfAtLeastHalfAndShrinksBelowThat) {
  ReadSizer s(64 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 4; ++i) s.OnRead(s.next());
  ASSERT_EQ(s.next(), 1024 * kKiB);
  s.OnRead(512 * kKiB);  // half: a bulk transfer in progress, stay large
  EXPECT_EQ(s.next(), 1024 * kKiB);
  s.OnRead(100);  // the socket was nearly empty: shrink
  EXPECT_EQ(s.next(), 512 * kKiB);
  for (int i = 0; i < 10; ++i) s.OnRead(1);
  EXPECT_EQ(s.next(), 64 * kKiB);  // never below the minimum
}

TEST(ReadSizerTest, FixedSizeWhenMinEqualsMax) {
  ReadSizer s(4096, 4096);
  s.OnRead(4096);
  EXPECT_EQ(s.next(), 4096u);
  s.OnRead(1);
  EXPECT_EQ(s.next(), 4096u);
}

}  // namespace
}  // namespace drpc
