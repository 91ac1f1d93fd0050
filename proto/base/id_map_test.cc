#include "proto/base/id_map.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace drpc {
namespace {

std::vector<std::pair<uint64_t, std::string>> Contents(const IdMap<std::string>& m) {
  std::vector<std::pair<uint64_t, std::string>> out;
  m.ForEach([&out](uint64_t id, const std::string& v) { out.emplace_back(id, v); });
  return out;
}

std::vector<std::pair<uint64_t, std::string>> Contents(const std::map<uint64_t, std::string>& m) {
  return {m.begin(), m.end()};
}

TEST(IdMapTest, InsertFindEraseInIdOrder) {
  IdMap<std::string> m(/*spare_max_count=*/2);
  EXPECT_TRUE(m.empty());
  m.Insert(5) = "five";
  m.Insert(1) = "one";
  m.Insert(3) = "three";
  EXPECT_EQ(m.size(), 3u);
  ASSERT_NE(m.Find(3), nullptr);
  EXPECT_EQ(*m.Find(3), "three");
  EXPECT_EQ(m.Find(2), nullptr);
  EXPECT_TRUE(m.contains(1));
  EXPECT_EQ(Contents(m), (std::vector<std::pair<uint64_t, std::string>>{
                             {1, "one"}, {3, "three"}, {5, "five"}}));
  EXPECT_TRUE(m.Erase(3));
  EXPECT_FALSE(m.Erase(3));
  EXPECT_EQ(m.Find(3), nullptr);
  EXPECT_EQ(m.size(), 2u);
}

TEST(IdMapTest, AKeptNodeHoldsADefaultValueAndKeepingIsBounded) {
  IdMap<std::string> m(/*spare_max_count=*/1);
  m.Insert(1) = "a long value that does not fit the small-string buffer";
  m.Insert(2) = "two";
  EXPECT_TRUE(m.Erase(1));
  EXPECT_TRUE(m.Erase(2));
  EXPECT_EQ(m.spare_count(), 1u);
  EXPECT_EQ(m.Insert(7), "");
  EXPECT_EQ(m.Insert(8), "");
  EXPECT_EQ(m.spare_count(), 0u);
}

TEST(IdMapTest, ValuesDoNotMoveWhileOthersComeAndGo) {
  IdMap<std::string> m(/*spare_max_count=*/4);
  std::string* kept = &m.Insert(100);
  *kept = "kept";
  // Through the inline array, into the std::map and back.
  for (uint64_t id = 1; id <= 3 * IdMap<std::string>::kFlatMaxCount; ++id) m.Insert(id);
  EXPECT_EQ(m.Find(100), kept);
  for (uint64_t id = 1; id <= 3 * IdMap<std::string>::kFlatMaxCount; ++id) m.Erase(id);
  EXPECT_EQ(m.Find(100), kept);
  EXPECT_EQ(*kept, "kept");
  EXPECT_EQ(m.size(), 1u);
}

TEST(IdMapTest, EraseIfVisitsByRisingIdAndErasesWhatItSays) {
  for (uint64_t n : {uint64_t{5}, uint64_t{3 * IdMap<std::string>::kFlatMaxCount}}) {
    IdMap<std::string> m(/*spare_max_count=*/8);
    for (uint64_t id = n; id >= 1; --id) m.Insert(id) = std::to_string(id);
    std::vector<uint64_t> seen;
    m.EraseIf([&seen](uint64_t id, std::string&) {
      seen.push_back(id);
      return id % 2 == 0;
    });
    ASSERT_EQ(seen.size(), n);
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
    EXPECT_EQ(m.size(), (n + 1) / 2);
    m.ForEach([](uint64_t id, const std::string& v) {
      EXPECT_EQ(id % 2, 1u);
      EXPECT_EQ(v, std::to_string(id));
    });
    m.Clear();
    EXPECT_TRUE(m.empty());
  }
}

// The same operations on an IdMap and a std::map agree, across both indexes and the switches
// between them (a fixed pseudo-random sequence).
TEST(IdMapTest, AgreesWithStdMap) {
  IdMap<std::string> m(/*spare_max_count=*/3);
  std::map<uint64_t, std::string> model;
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (int step = 0; step < 20000; ++step) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    const uint64_t r = x >> 33;
    // IDs from a small range, so inserts and erases hit; sizes wander across kFlatMaxCount.
    const uint64_t id = r % 24;
    const bool grow = (step / 500) % 2 == 0;
    if (r % 3 != 0 || (grow && r % 7 == 0)) {
      if (model.count(id) == 0) {
        m.Insert(id) = std::to_string(step);
        model[id] = std::to_string(step);
      }
    }
    if (!grow || r % 5 == 0) {
      const uint64_t e = (r >> 8) % 24;
      EXPECT_EQ(m.Erase(e), model.erase(e) == 1);
    }
    ASSERT_EQ(m.size(), model.size());
    const std::string* found = m.Find(id);
    ASSERT_EQ(found != nullptr, model.count(id) == 1);
    if (found != nullptr) {
      EXPECT_EQ(*found, model[id]);
    }
    if (step % 97 == 0) {
      ASSERT_EQ(Contents(m), Contents(model));
    }
  }
  EXPECT_EQ(Contents(m), Contents(model));
}

TEST(IdMapTest, ClearingATableOfManyKeepsNoMoreThanItsSpareBound) {
  IdMap<std::string> m(/*spare_max_count=*/3);
  for (uint64_t id = 1; id <= 4 * IdMap<std::string>::kFlatMaxCount; ++id) m.Insert(id);
  m.Clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.spare_count(), 3u);
  for (uint64_t id = 1; id <= 4 * IdMap<std::string>::kFlatMaxCount; ++id) m.Insert(id);
  for (uint64_t id = 1; id <= 4 * IdMap<std::string>::kFlatMaxCount; ++id) m.Erase(id);
  EXPECT_EQ(m.spare_count(), 3u);
}

// A peer picks any IDs: falling ones, the largest ones, across the switch between the indexes.
TEST(IdMapTest, ExtremeAndFallingIdsStayInOrderAcrossTheIndexSwitch) {
  IdMap<std::string> m(/*spare_max_count=*/2);
  std::map<uint64_t, std::string> model;
  const uint64_t top = ~uint64_t{0};
  for (uint64_t i = 0; i < 2 * IdMap<std::string>::kFlatMaxCount; ++i) {
    const uint64_t id = i % 2 == 0 ? top - i : i;  // alternately near the top and near zero
    m.Insert(id) = std::to_string(id);
    model[id] = std::to_string(id);
    ASSERT_EQ(Contents(m), Contents(model));
  }
  for (uint64_t i = 0; i < 2 * IdMap<std::string>::kFlatMaxCount; i += 3) {
    const uint64_t id = i % 2 == 0 ? top - i : i;
    EXPECT_TRUE(m.Erase(id));
    model.erase(id);
    ASSERT_EQ(Contents(m), Contents(model));
  }
  EXPECT_EQ(m.Find(top), nullptr);  // i = 0, erased
  ASSERT_NE(m.Find(top - 2), nullptr);
  EXPECT_EQ(*m.Find(top - 2), std::to_string(top - 2));
}

TEST(IdMapTest, DestroysWhatItHolds) {
  auto counter = std::make_shared<int>(0);
  {
    IdMap<std::shared_ptr<int>> m(/*spare_max_count=*/2);
    for (uint64_t id = 1; id <= 20; ++id) m.Insert(id) = counter;
    EXPECT_EQ(counter.use_count(), 21);
    m.Erase(3);
    EXPECT_EQ(counter.use_count(), 20);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

}  // namespace
}  // namespace drpc
