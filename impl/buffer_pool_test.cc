// The connection's buffer pool (impl/buffer_pool.h): bounded, and actually reused by the
// assemblers and receive queues of both modes; trimmed, and memory given back through the Env,
// when a connection goes idle after a burst (impl/tunables.h, "Memory given back").
#include "impl/buffer_pool.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "impl/trim_throttle.h"
#include "impl/tunables.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

using testing::Pair;
using testing::RunPair;

std::string Grown(size_t bytes) {
  std::string s(bytes, 'x');
  return s;
}

TEST(BufferPoolTest, DefaultsKeepAOneMebibyteMessageBufferButNotALargerOne) {
  BufferPool pool(BufferPool::Limits{});
  std::string mib;
  mib.reserve(1 << 20);
  pool.Give(std::move(mib));
  EXPECT_EQ(pool.free_count(), 1u);
  std::string huge;
  huge.reserve((1 << 20) + 4096);
  pool.Give(std::move(huge));
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_EQ(pool.discarded(), 1u);
  EXPECT_LE(pool.free_bytes(), tunables::kBufferPoolMaxBytes);
}

TEST(BufferPoolTest, TakeReusesWhatWasGivenAndHandsItOutEmpty) {
  BufferPool pool(BufferPool::Limits{});
  EXPECT_TRUE(pool.Take().empty());
  EXPECT_EQ(pool.allocated(), 1u);
  std::string b = Grown(1000);
  const char* storage = b.data();
  pool.Give(std::move(b));
  EXPECT_EQ(pool.free_count(), 1u);
  std::string again = pool.Take();
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), 1000u);
  EXPECT_EQ(again.data(), storage);  // the very same allocation
  EXPECT_EQ(pool.reused(), 1u);
  EXPECT_EQ(pool.free_count(), 0u);
  EXPECT_EQ(pool.free_bytes(), 0u);
}

TEST(BufferPoolTest, TakeIntoMovesTheBufferInOrLeavesAFreshStringAlone) {
  BufferPool pool(BufferPool::Limits{});
  std::string none;
  pool.TakeInto(none);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.capacity(), std::string().capacity());
  EXPECT_EQ(pool.allocated(), 1u);
  std::string b = Grown(1000);
  const char* storage = b.data();
  pool.Give(std::move(b));
  std::string again;
  pool.TakeInto(again);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(again.data(), storage);  // the very same allocation
  EXPECT_EQ(pool.reused(), 1u);
  EXPECT_EQ(pool.free_count(), 0u);
  EXPECT_EQ(pool.free_bytes(), 0u);
}

TEST(BufferPoolTest, FreeListNeverExceedsItsCountOrByteBound) {
  BufferPool pool(BufferPool::Limits{
      .pooled_max_count = 4, .pooled_max_bytes = 10000, .buffer_max_bytes = 5000});
  for (int i = 0; i < 10; ++i) {
    pool.Give(Grown(1000));
    EXPECT_LE(pool.free_count(), 4u);
    EXPECT_LE(pool.free_bytes(), 10000u);
  }
  EXPECT_EQ(pool.free_count(), 4u);
  EXPECT_EQ(pool.discarded(), 6u);
  while (pool.free_count() > 0) pool.Take();
  pool.Give(Grown(6000));  // larger than one pooled buffer may be
  EXPECT_EQ(pool.free_count(), 0u);
  for (int i = 0; i < 3; ++i) pool.Give(Grown(4000));  // the third would pass 10000 bytes
  EXPECT_EQ(pool.free_count(), 2u);
  EXPECT_LE(pool.free_bytes(), 10000u);
  pool.Give(std::string("tiny"));  // never grew: not worth keeping
  EXPECT_EQ(pool.free_count(), 2u);
}

// A client reading a bidi echo into one string: after the first messages every packet is
// assembled into a reused buffer, in both modes.
TEST(BufferPoolTest, ConnectionReusesMessageBuffers) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    sim::RunResult r = RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      const BufferPool& pool = p.conn().manager().buffer_pool();
      absl::StatusOr<std::shared_ptr<RpcStream>> s =
          p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
      std::string m;
      for (int i = 0; i < 100; ++i) {
        const std::string sent(1024, static_cast<char>('a' + i % 26));
        ctx.Check((*s)->Send(sent).ok(), "send");
        ctx.Check((*s)->RecvInto(&m).ok() && m == sent, absl::StrCat("message ", i));
        ctx.Check(pool.free_count() <= pool.limits().pooled_max_count &&
                      pool.free_bytes() <= pool.limits().pooled_max_bytes,
                  "pool over its bounds");
      }
      ctx.Check(pool.reused() >= 95 && pool.allocated() <= 5,
                absl::StrCat("reused ", pool.reused(), ", allocated ", pool.allocated()));
      ctx.Check((*s)->CloseSend().ok() && IsEof((*s)->Recv().status()), "end");
    });
    EXPECT_TRUE(r.ok()) << (mux ? "mux " : "upstream ") << r.message << "\n" << r.trace_tail;
  }
}

// A burst of large messages nobody reads, then dropped with their stream: the pool keeps only
// what its bounds allow and frees the rest.
TEST(BufferPoolTest, DroppedBurstStaysWithinThePoolBounds) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    sim::RunResult r = RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      const BufferPool& pool = p.conn().manager().buffer_pool();
      CallContext call(p.env());
      absl::StatusOr<std::shared_ptr<Stream>> s = p.conn().OpenStream(call, "/interop.Echo/Bidi");
      for (int i = 0; i < 100; ++i) ctx.Check((*s)->Send(std::string(30000, 'z')).ok(), "send");
      SleepFor(p.env(), Duration::Millis(20));
      ctx.Check((*s)->queued_messages() == 100, absl::StrCat((*s)->queued_messages(), " queued"));
      call.Cancel();  // drops the queue: 100 buffers of ~30 KB go back
      ctx.Check(pool.free_count() == pool.limits().pooled_max_count && pool.discarded() > 0 &&
                    pool.free_bytes() <= pool.limits().pooled_max_bytes,
                absl::StrCat("free ", pool.free_count(), " (", pool.free_bytes(),
                             " bytes), discarded ", pool.discarded()));
    });
    EXPECT_TRUE(r.ok()) << (mux ? "mux " : "upstream ") << r.message << "\n" << r.trace_tail;
  }
}

TEST(BufferPoolTest, TrimFreesTheLargestBuffersDownToWhatItKeeps) {
  BufferPool pool(BufferPool::Limits{});
  for (size_t bytes : {100'000, 2'000, 500'000, 3'000, 1'000'000}) pool.Give(Grown(bytes));
  const size_t before = pool.free_bytes();
  const size_t freed = pool.Trim(10'000);
  EXPECT_EQ(freed, before - pool.free_bytes());
  EXPECT_LE(pool.free_bytes(), 10'000u);
  EXPECT_EQ(pool.free_count(), 2u);  // the two small ones stay for ordinary messages
  EXPECT_EQ(pool.freed_bytes(), freed);
  EXPECT_EQ(pool.Trim(10'000), 0u);
}

// A burst of large messages, then quiet: the connection trims its pool and asks the Env once to
// give memory back — after the burst, not during it and not per message.
TEST(BufferPoolTest, ConnectionReturnsMemoryOnceWhenIdleAfterABurst) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    sim::RunResult r = RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      const Manager& m = p.conn().manager();
      const MemoryReturnThrottle& memory = ctx.env().memory();
      absl::StatusOr<std::shared_ptr<RpcStream>> s =
          p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
      std::string got;
      for (int i = 0; i < 20; ++i) {
        const std::string sent(900 * 1024, static_cast<char>('a' + i));
        ctx.Check((*s)->Send(sent).ok(), "send");
        ctx.Check((*s)->RecvInto(&got).ok() && got == sent, absl::StrCat("message ", i));
      }
      ctx.Check(m.memory_returns() == 0, "memory returned during the burst");
      const uint64_t requests_after_burst = memory.requests();
      SleepFor(p.env(), tunables::kMemoryReturnIdleDelay * 3);
      ctx.Check(m.memory_returns() == 1 && m.idle_trims() >= 1,
                absl::StrCat(m.memory_returns(), " returns, ", m.idle_trims(), " trims"));
      ctx.Check(m.buffer_pool().free_bytes() <= tunables::kBufferPoolIdleKeepMaxBytes,
                absl::StrCat(m.buffer_pool().free_bytes(), " bytes still pooled"));
      // The client's and the server's connection: one call each at most.
      ctx.Check(memory.requests() > requests_after_burst && memory.requests() <= 2,
                absl::StrCat(memory.requests(), " requests"));
      // Quiet for longer: nothing more to give back, so no more requests; the two connections'
      // requests came within one trim interval, so the second was deferred to its end, not dropped.
      SleepFor(p.env(), Duration::Seconds(2));
      ctx.Check(m.memory_returns() == 1, "returned again with nothing freed");
      ctx.Check(ctx.memory().trims() == memory.requests() && !memory.scheduled(),
                absl::StrCat(ctx.memory().trims(), " trims for ", memory.requests(), " requests"));
      ctx.Check((*s)->CloseSend().ok() && IsEof((*s)->Recv().status()), "end");
    });
    EXPECT_TRUE(r.ok()) << (mux ? "mux " : "upstream ") << r.message << "\n" << r.trace_tail;
  }
}

// Small calls with idle gaps between them: buffers are trimmed at most, memory is never given
// back (there is nothing worth a trim of the whole heap).
TEST(BufferPoolTest, SmallCallsWithIdleGapsNeverReturnMemory) {
  for (bool mux : {false, true}) {
    Options o;
    o.mux = mux;
    sim::RunResult r = RunPair(o, o, [](Pair& p, sim::SimContext& ctx) {
      for (int i = 0; i < 30; ++i) {
        CallContext call(p.env());
        absl::StatusOr<std::string> reply =
            p.conn().Invoke(call, "/interop.Echo/Unary", std::string(64, 's'));
        ctx.Check(reply.ok() && reply->size() == 64, absl::StrCat("call ", i));
        if (i % 5 == 0) SleepFor(p.env(), tunables::kMemoryReturnIdleDelay * 2);
      }
      SleepFor(p.env(), Duration::Seconds(2));
      const MemoryReturnThrottle& memory = ctx.env().memory();
      ctx.Check(memory.requests() == 0, absl::StrCat(memory.requests(), " requests"));
      ctx.Check(ctx.memory().trims() == 0 && !memory.scheduled(), "trimmed");
      ctx.Check(p.conn().manager().memory_returns() == 0, "returned memory");
    });
    EXPECT_TRUE(r.ok()) << (mux ? "mux " : "upstream ") << r.message << "\n" << r.trace_tail;
  }
}

}  // namespace
}  // namespace drpc
