#include "impl/time.h"

#include "gtest/gtest.h"

namespace drpc {
namespace {

TEST(TimeTest, DurationUnitsConvertExactly) {
  EXPECT_EQ(Duration::Micros(3).nanos(), 3000);
  EXPECT_EQ(Duration::Millis(2).nanos(), 2000000);
  EXPECT_EQ(Duration::Seconds(1), Duration::Millis(1000));
  EXPECT_LT(Duration::Micros(999), Duration::Millis(1));
}

TEST(TimeTest, InstantArithmeticMeasuresDurations) {
  const Instant t0 = Instant::FromNanos(100);
  const Instant t1 = t0 + Duration::Millis(5);
  EXPECT_EQ(t1 - t0, Duration::Millis(5));
  EXPECT_EQ(t1 - Duration::Millis(5), t0);
  EXPECT_GT(t1, t0);
}

TEST(TimeTest, InfiniteDeadlinesSaturateInsteadOfOverflowing) {
  const Instant never = Instant::FromNanos(5) + Duration::Infinite();
  EXPECT_TRUE(never.is_infinite());
  EXPECT_TRUE((Duration::Infinite() + Duration::Seconds(1)).is_infinite());
  EXPECT_GT(never, Instant::FromNanos(1) + Duration::Seconds(1000000));
}

TEST(TimeTest, DurationsPrintWithTheirLargestUnit) {
  EXPECT_EQ(Duration::Zero().ToString(), "0");
  EXPECT_EQ(Duration::Nanos(17).ToString(), "17ns");
  EXPECT_EQ(Duration::Micros(250).ToString(), "250us");
  EXPECT_EQ(Duration::Millis(1500).ToString(), "1.5s");
  EXPECT_EQ(Duration::Infinite().ToString(), "inf");
  EXPECT_EQ(Instant::FromNanos(12000250000).ToString(), "12.000250s");
}

}  // namespace
}  // namespace drpc
