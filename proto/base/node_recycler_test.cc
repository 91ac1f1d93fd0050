#include "proto/base/node_recycler.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace drpc {
namespace {

struct State {
  std::shared_ptr<int> held;
  std::string name;
  int count = 0;
};
using StateMap = std::map<uint64_t, State>;

TEST(NodeRecyclerTest, AnErasedNodeCarriesTheNextInsertInOrder) {
  StateMap map;
  NodeRecycler<StateMap> spare(2);
  spare.Emplace(map, 5)->second.count = 1;
  auto it = spare.Emplace(map, 7);
  const State* node_value = &it->second;
  spare.Erase(map, it);
  EXPECT_EQ(spare.kept_count(), 1u);
  auto again = spare.Emplace(map, 3);
  EXPECT_EQ(&again->second, node_value) << "the kept node is reused";
  EXPECT_EQ(spare.kept_count(), 0u);
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map.begin()->first, 3u) << "the reused node is ordered by its new key";
  EXPECT_EQ(std::next(map.begin())->first, 5u);
}

TEST(NodeRecyclerTest, EraseReleasesTheValueAtOnceAndReuseStartsFromADefault) {
  StateMap map;
  NodeRecycler<StateMap> spare(4);
  auto held = std::make_shared<int>(1);
  auto it = spare.Emplace(map, 1);
  it->second = State{held, "a name longer than a short string", 9};
  spare.Erase(map, it);
  EXPECT_EQ(held.use_count(), 1) << "a kept node must not keep what its value owned";
  const State& reused = spare.Emplace(map, 2)->second;
  EXPECT_EQ(reused.held, nullptr);
  EXPECT_TRUE(reused.name.empty());
  EXPECT_EQ(reused.count, 0);
}

TEST(NodeRecyclerTest, KeepsAtMostItsBoundAndNoneWithZero) {
  StateMap map;
  NodeRecycler<StateMap> spare(2);
  for (uint64_t k = 0; k < 5; ++k) spare.Emplace(map, k);
  for (auto it = map.begin(); it != map.end();) it = spare.Erase(map, it);
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(spare.kept_count(), 2u);
  spare.Clear();
  EXPECT_EQ(spare.kept_count(), 0u);

  NodeRecycler<StateMap> none(0);
  none.Erase(map, none.Emplace(map, 1));
  EXPECT_EQ(none.kept_count(), 0u);
  EXPECT_TRUE(map.empty());
}

TEST(NodeRecyclerTest, EraseReturnsTheNextEntry) {
  StateMap map;
  NodeRecycler<StateMap> spare(1);
  for (uint64_t k : {1, 2, 3}) spare.Emplace(map, k);
  auto next = spare.Erase(map, map.find(2));
  ASSERT_NE(next, map.end());
  EXPECT_EQ(next->first, 3u);
  next = spare.Erase(map, map.find(3));  // over the bound: an ordinary erase
  EXPECT_EQ(next, map.end());
  EXPECT_EQ(spare.kept_count(), 1u);
}

}  // namespace
}  // namespace drpc
