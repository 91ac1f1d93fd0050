#include "impl/fiber/fiber_state.h"

#include "gtest/gtest.h"

namespace drpc {
namespace {

TEST(FiberStateTest, NewFiberIsRunnableWithoutAPermit) {
  FiberState s;
  EXPECT_TRUE(s.runnable());
  EXPECT_FALSE(s.has_permit());
  EXPECT_EQ(s.Name(), "runnable");
}

TEST(FiberStateTest, ParkThenUnparkMakesTheFiberRunnableOnce) {
  FiberState s;
  s.Resume();
  EXPECT_FALSE(s.TakePermit());
  s.Park("waiting for stream 3");
  EXPECT_TRUE(s.parked());
  EXPECT_EQ(s.park_reason(), "waiting for stream 3");
  EXPECT_TRUE(s.Unpark());  // the scheduler queues it
  EXPECT_TRUE(s.runnable());
  EXPECT_FALSE(s.Unpark());  // already runnable: only a permit, never a second queue entry
  EXPECT_TRUE(s.has_permit());
  s.Resume();
  s.Unparked();
  EXPECT_TRUE(s.park_reason().empty());
}

TEST(FiberStateTest, UnparkBeforeParkLeavesAPermitThatTheNextParkConsumes) {
  FiberState s;
  s.Resume();
  EXPECT_FALSE(s.Unpark());  // running: nothing to queue
  EXPECT_TRUE(s.has_permit());
  EXPECT_TRUE(s.TakePermit());  // Park returns at once
  EXPECT_TRUE(s.running());
  EXPECT_FALSE(s.has_permit());
  EXPECT_FALSE(s.TakePermit());  // the permit was used up
}

TEST(FiberStateTest, ManyUnparksLeaveOnePermit) {
  FiberState s;
  s.Resume();
  EXPECT_FALSE(s.Unpark());
  EXPECT_FALSE(s.Unpark());
  EXPECT_TRUE(s.TakePermit());
  EXPECT_FALSE(s.TakePermit());
}

TEST(FiberStateTest, UnparkOfARunnableFiberLeavesAPermit) {
  FiberState s;
  s.Resume();
  s.Yield();
  EXPECT_TRUE(s.runnable());
  EXPECT_FALSE(s.Unpark());
  s.Resume();
  EXPECT_TRUE(s.TakePermit());
}

TEST(FiberStateTest, AbandonedFiberIgnoresUnpark) {
  FiberState s;
  s.Resume();
  s.Abandon();
  EXPECT_TRUE(s.abandoned());
  EXPECT_FALSE(s.Unpark());
  EXPECT_FALSE(s.has_permit());
  EXPECT_EQ(s.Name(), "abandoned");
}

TEST(FiberStateDeathTest, IllegalTransitionsAreBugs) {
  EXPECT_DEATH(
      {
        FiberState s;
        s.Resume();
        s.Resume();
      },
      "resuming a fiber that is not runnable: running");
  EXPECT_DEATH(
      {
        FiberState s;
        s.Park("never ran");
      },
      "park from a fiber that is not running: runnable");
  EXPECT_DEATH(
      {
        FiberState s;
        s.Resume();
        s.Unpark();
        s.Park("skipped TakePermit");
      },
      "parking with a permit pending");
  EXPECT_DEATH(
      {
        FiberState s;
        s.Resume();
        s.Park("parked");
        s.Resume();
      },
      "not runnable: parked");
}

}  // namespace
}  // namespace drpc
