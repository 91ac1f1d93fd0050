#include "impl/fifo.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace drpc {
namespace {

std::vector<int> Drain(Fifo<int>& q) {
  std::vector<int> out;
  while (!q.empty()) {
    out.push_back(q.front());
    q.pop_front();
  }
  return out;
}

TEST(FifoTest, EmptyQueueHoldsNoHeapSlots) {
  Fifo<std::string> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), 1u);
  EXPECT_FALSE(q.spilled());
}

TEST(FifoTest, OneElementAtATimeStaysInline) {
  Fifo<std::string> q;
  for (int i = 0; i < 5; ++i) {
    q.push_back(std::string(100, static_cast<char>('a' + i)));
    EXPECT_EQ(q.front(), std::string(100, static_cast<char>('a' + i)));
    q.pop_front();
  }
  EXPECT_FALSE(q.spilled());
  EXPECT_EQ(q.capacity(), 1u);
}

TEST(FifoTest, ASecondElementSpillsToTheHeapInOrder) {
  Fifo<std::string> q;
  q.push_back("first");
  q.push_back("second");  // spills: the inline element moves to the heap ring's front
  EXPECT_TRUE(q.spilled());
  EXPECT_EQ(q.capacity(), 4u);
  q.push_back("third");
  EXPECT_EQ(q[0], "first");
  EXPECT_EQ(q[1], "second");
  EXPECT_EQ(q[2], "third");
  q.pop_front();
  EXPECT_EQ(q.front(), "second");
}

TEST(FifoTest, TwoInlineSlotsHoldAPairAndWrapWithoutSpilling) {
  Fifo<std::string, 2> q;
  EXPECT_EQ(q.capacity(), 2u);
  for (int round = 0; round < 4; ++round) {  // the ring's head walks round both slots
    q.push_back("a" + std::to_string(round));
    q.push_back("b" + std::to_string(round));
    EXPECT_EQ(q[1], "b" + std::to_string(round));
    q.pop_front();
    EXPECT_EQ(q.front(), "b" + std::to_string(round));
    q.pop_front();
  }
  EXPECT_FALSE(q.spilled());
  q.push_back("x");
  q.pop_front();
  q.push_back("y");  // head at slot 1: the pair wraps round the inline ring
  q.push_back("z");
  q.push_back("w");  // a third spills, in order
  EXPECT_TRUE(q.spilled());
  EXPECT_EQ(q.capacity(), 4u);
  EXPECT_EQ(q[0], "y");
  EXPECT_EQ(q[1], "z");
  EXPECT_EQ(q[2], "w");
}

TEST(FifoTest, SpillingReleasesWhatTheInlineSlotHeld) {
  Fifo<std::shared_ptr<int>> q;
  auto value = std::make_shared<int>(1);
  q.push_back(value);
  q.push_back(value);  // spills
  q.clear();
  EXPECT_EQ(value.use_count(), 1) << "the inline slot must not keep a moved-from copy alive";
}

TEST(FifoTest, KeepsOrderAcrossWrapAroundAndGrowth) {
  Fifo<int> q;
  int next_in = 0, next_out = 0;
  // Interleave pushes and pops so the ring wraps before, while and after it grows.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round % 7 + 1; ++i) q.push_back(next_in++);
    for (int i = 0; i < round % 5 && !q.empty(); ++i) {
      EXPECT_EQ(q.front(), next_out++);
      q.pop_front();
    }
  }
  for (int v : Drain(q)) EXPECT_EQ(v, next_out++);
  EXPECT_EQ(next_out, next_in);
}

TEST(FifoTest, IndexesFromTheFront) {
  Fifo<int> q;
  for (int i = 0; i < 6; ++i) q.push_back(i);
  q.pop_front();
  q.pop_front();
  for (int i = 6; i < 9; ++i) q.push_back(i);  // wraps in a capacity of 8
  ASSERT_EQ(q.size(), 7u);
  for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i], static_cast<int>(i) + 2);
}

TEST(FifoTest, EraseFirstKeepsTheOthersInOrder) {
  Fifo<int> q;
  for (int v : {1, 2, 3, 2, 4}) q.push_back(v);
  EXPECT_TRUE(q.EraseFirst(2));
  EXPECT_FALSE(q.EraseFirst(7));
  EXPECT_EQ(Drain(q), (std::vector<int>{1, 3, 2, 4}));
}

TEST(FifoTest, PoppedSlotsReleaseWhatTheyHeld) {
  Fifo<std::shared_ptr<int>> q;
  auto value = std::make_shared<int>(1);
  q.push_back(value);
  q.push_back(value);
  EXPECT_EQ(value.use_count(), 3);
  q.pop_front();
  EXPECT_EQ(value.use_count(), 2);
  q.clear();
  EXPECT_EQ(value.use_count(), 1);
}

TEST(FifoTest, ReusesItsSlotsAndFreesALargeRingOnceEmpty) {
  Fifo<int> q;
  for (int i = 0; i < 3; ++i) q.push_back(i);
  const size_t small = q.capacity();
  Drain(q);
  EXPECT_EQ(q.capacity(), small);  // kept for the next burst
  for (size_t i = 0; i < Fifo<int>::kKeepMaxCount + 1; ++i) q.push_back(static_cast<int>(i));
  EXPECT_GT(q.capacity(), Fifo<int>::kKeepMaxCount);
  Drain(q);
  EXPECT_EQ(q.capacity(), 1u);
  EXPECT_FALSE(q.spilled());
}

TEST(FifoTest, ReleaseIfEmptyFreesTheSlotsOfAnEmptyQueueOnly) {
  Fifo<int> q;
  q.push_back(1);
  q.push_back(0);
  q.pop_front();
  q.ReleaseIfEmpty();
  EXPECT_TRUE(q.spilled()) << "a queue in use keeps its slots";
  EXPECT_EQ(q.front(), 0);
  q.pop_front();
  q.ReleaseIfEmpty();
  EXPECT_EQ(q.capacity(), 1u);
  EXPECT_FALSE(q.spilled());
  q.push_back(2);  // usable again
  EXPECT_EQ(q.front(), 2);
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace drpc
