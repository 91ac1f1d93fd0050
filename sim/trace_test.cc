#include "sim/trace.h"

#include <cstdint>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace drpc::sim {
namespace {

Trace Quiet() { return Trace(Trace::Options{.echo = false, .ring_max_lines = 0}); }

uint64_t HashOfBytes(uint8_t tag, uint64_t value, const std::string& bytes) {
  Trace t = Quiet();
  t.MixBytes(tag, value, bytes);
  return t.hash();
}

// A delivered segment is told apart from every other by its bytes, its length (trailing zero
// bytes included, across the word boundary too), the connection it crossed and its kind.
TEST(TraceTest, SegmentsThatDifferInAByteTheirLengthOrTheirEventHashDifferently) {
  std::set<uint64_t> hashes;
  int made = 0;
  for (size_t size = 0; size <= 17; ++size) {
    for (int flip = -1; flip < static_cast<int>(size); ++flip) {
      std::string bytes(size, '\0');
      if (flip >= 0) bytes[flip] = '\x80';
      hashes.insert(HashOfBytes(0xde, 1, bytes));
      ++made;
    }
  }
  hashes.insert(HashOfBytes(0xde, 2, ""));
  hashes.insert(HashOfBytes(0xdf, 1, ""));
  made += 2;
  EXPECT_EQ(hashes.size(), static_cast<size_t>(made));
}

// MixBytes folds the steps its contract states: the event, each whole little-endian word, then
// the tail's bytes zero-extended with the count's low byte on top — whatever shortcut it takes to
// load the words and the tail (the trace hashes of every recorded run depend on it).
TEST(TraceTest, MixBytesFoldsTheWordsAndTheTailItsContractStates) {
  for (size_t size = 0; size <= 40; ++size) {
    std::string bytes;
    for (size_t i = 0; i < size; ++i) bytes.push_back(static_cast<char>(0x91 + 37 * i));
    Trace want = Quiet();
    want.MixEvent(0xde, 5);
    size_t at = 0;
    for (; at + 8 <= size; at += 8) {
      uint64_t word = 0;
      for (size_t i = 0; i < 8; ++i) word |= uint64_t{static_cast<uint8_t>(bytes[at + i])} << (8 * i);
      want.Mix(word);
    }
    uint64_t tail = 0;
    for (size_t i = 0; at + i < size; ++i) {
      tail |= uint64_t{static_cast<uint8_t>(bytes[at + i])} << (8 * i);
    }
    want.Mix(tail ^ (uint64_t{static_cast<uint8_t>(size)} << 56));
    EXPECT_EQ(HashOfBytes(0xde, 5, bytes), want.hash()) << size << " bytes";
  }
}

// Events are folded in order: the same events in another order, or one tagged as another kind,
// give another hash; the same sequence gives the same hash.
TEST(TraceTest, TheHashDependsOnTheEventsTheirKindsAndTheirOrder) {
  auto run = [](uint8_t first_tag, uint64_t a, uint64_t b) {
    Trace t = Quiet();
    t.MixEvent(first_tag, a);
    t.MixEvent(0xd1, b);
    t.Mix(7);
    return t.hash();
  };
  EXPECT_EQ(run(0xd1, 3, 4), run(0xd1, 3, 4));
  EXPECT_NE(run(0xd1, 3, 4), run(0xd1, 4, 3));
  EXPECT_NE(run(0xd1, 3, 4), run(0x71, 3, 4));
  Trace plain = Quiet();
  plain.Mix(3);
  Trace tagged = Quiet();
  tagged.MixEvent(0xd1, 3);
  EXPECT_NE(plain.hash(), tagged.hash());
}

}  // namespace
}  // namespace drpc::sim
