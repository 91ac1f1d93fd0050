// Issue 13 item 5: no superlinear per-frame cost in anything a peer controls. A mux server keeps
// nothing for stream IDs that are not in use (docs/protocol.md §14.2), so a flood of frames whose
// stream IDs step by 1,024 — each one skipping over a thousand IDs — costs what a flood of
// consecutive IDs costs, and twice the frames cost twice as much.
//
// The work is counted, not timed: every heap allocation of the process (this binary replaces the
// global operator new) between the first byte of a flood and the answer to a call behind it.
// Skipped-ID tracking cost thousands of allocations per such frame; the simulator, the raw peer
// and the reader's own bookkeeping cost a few per frame whatever the IDs.
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"

namespace {
uint64_t g_allocations = 0;  // the simulator runs on one thread
}  // namespace

void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace drpc {
namespace {

using testing::F;
using testing::RawFrame;
using testing::RunServer;
using testing::ServerSide;

enum class Flood { kCancels, kInvokes };

std::vector<RawFrame> Call(uint64_t id, const std::string& data) {
  return {F(Kind::kInvoke, id, 1, "/interop.Echo/Unary"), F(Kind::kMessage, id, 2, data),
          F(Kind::kCloseSend, id, 3)};
}

// Allocations from the first byte of `count` flood frames (stream IDs step, 2 step, ...) until the
// reply to one more call arrives.
uint64_t FloodAllocations(Flood flood, uint64_t step, uint64_t count) {
  uint64_t counted = 0;
  Options o = testing::MuxOptions();
  const sim::RunResult r = RunServer(o, [&](ServerSide& s) {
    std::vector<RawFrame> frames;
    for (uint64_t i = 1; i <= count; ++i) {
      if (flood == Flood::kCancels) {
        RawFrame cancel = F(Kind::kCancel, i * step, 1);
        cancel.control = true;
        frames.push_back(std::move(cancel));
      } else {
        for (RawFrame& f : Call(i * step, "f")) frames.push_back(std::move(f));
      }
    }
    const uint64_t probe_id = (count + 1) * step;
    for (RawFrame& f : Call(probe_id, "probe")) frames.push_back(std::move(f));
    const std::string bytes = testing::Encode(frames);
    frames.clear();
    const uint64_t before = g_allocations;
    s.sim.Check(s.client.WriteBytes(bytes).ok(), "flood");
    for (;;) {
      absl::StatusOr<RawFrame> f = s.client.ReadFrame(Duration::Seconds(10));
      s.sim.Check(f.ok(), f.status().ToString());
      if (f->kind == Kind::kMessage && f->id.stream == probe_id) break;
    }
    counted = g_allocations - before;
  });
  EXPECT_TRUE(r.ok()) << r.message;
  return counted;
}

void ExpectLinearAndIndependentOfTheIds(Flood flood, uint64_t count) {
  const uint64_t sequential = FloodAllocations(flood, 1, count);
  const uint64_t stepped = FloodAllocations(flood, 1024, count);
  const uint64_t stepped_half = FloodAllocations(flood, 1024, count / 2);
  const double per_frame = static_cast<double>(stepped) / static_cast<double>(count);
  // Stepping over a thousand unused IDs per frame costs what consecutive IDs cost...
  EXPECT_LE(stepped, sequential + sequential / 10 + 100)
      << "stepped " << stepped << ", sequential " << sequential;
  // ... a bounded amount per frame ...
  EXPECT_LE(per_frame, flood == Flood::kCancels ? 16.0 : 400.0) << stepped << " for " << count;
  // ... and twice the frames cost (about) twice as much.
  EXPECT_LE(stepped, 2 * stepped_half + stepped_half / 5 + 100)
      << "stepped " << stepped << ", half the frames " << stepped_half;
}

TEST(MuxFloodTest, CancelsForUnknownSteppedIdsCostWhatConsecutiveIdsCost) {
  ExpectLinearAndIndependentOfTheIds(Flood::kCancels, 4000);
}

TEST(MuxFloodTest, InvokesWithSteppedIdsCostWhatConsecutiveIdsCost) {
  ExpectLinearAndIndependentOfTheIds(Flood::kInvokes, 300);
}

}  // namespace
}  // namespace drpc
