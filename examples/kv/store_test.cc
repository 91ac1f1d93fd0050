#include "examples/kv/store.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "sim/simulation.h"
#include "proto/base/check.h"

namespace kv {
namespace {

// Runs `body` with a Store on a fresh simulation; failures of ctx.Check fail the test.
void WithStore(Store::Limits limits, std::function<void(Store&, drpc::sim::SimContext&)> body) {
  drpc::sim::RunResult r = drpc::sim::RunSeed(
      [&](drpc::sim::SimContext& ctx) {
        Store store(ctx.env(), limits);
        body(store, ctx);
      },
      1, drpc::sim::RunOptions{});
  ASSERT_TRUE(r.ok()) << r.message << "\n" << r.trace_tail;
}

TEST(StoreTest, ChangesTakeConsecutiveRevisions) {
  WithStore({}, [](Store& store, drpc::sim::SimContext& ctx) {
    ctx.Check(*store.Put("a", "1") == 1 && *store.Put("b", "2") == 2 && *store.Put("a", "3") == 3,
              "put revisions");
    absl::StatusOr<std::optional<Entry>> a = store.Get("a");
    ctx.Check(a.ok() && a->has_value() && (*a)->value() == "3" && (*a)->revision() == 3, "get a");
    ctx.Check(**store.Delete("b") == 4, "delete revision");
    ctx.Check(!store.Delete("b")->has_value() && store.revision() == 4,
              "deleting a missing key changes nothing");
    ctx.Check(!store.Get("b")->has_value(), "b is gone");
  });
}

TEST(StoreTest, LimitsRejectAChangeAndChangeNothing) {
  WithStore({.key_max_bytes = 4, .value_max_bytes = 3, .keys_max_count = 2, .history_max_count = 8},
            [](Store& store, drpc::sim::SimContext& ctx) {
              ctx.Check(absl::IsInvalidArgument(store.Put("", "x").status()), "empty key");
              ctx.Check(absl::IsInvalidArgument(store.Put("toolong", "x").status()), "long key");
              ctx.Check(absl::IsInvalidArgument(store.Put("k", "long").status()), "long value");
              ctx.Check(store.Put("k1", "v").ok() && store.Put("k2", "v").ok(), "two keys");
              ctx.Check(absl::IsResourceExhausted(store.Put("k3", "v").status()), "third key");
              ctx.Check(store.Put("k1", "w").ok(), "an existing key can still change");
              ctx.Check(store.revision() == 3, absl::StrCat("revision ", store.revision()));
            });
}

TEST(StoreTest, HistoryIsBoundedAndFilteredByPrefix) {
  WithStore({.history_max_count = 3}, [](Store& store, drpc::sim::SimContext& ctx) {
    for (const char* key : {"a/1", "b/1", "a/2", "a/3"}) store.Put(key, "v").IgnoreError();
    std::vector<Event> events;
    ctx.Check(store.ChangesSince(2, "a/", &events).ok() && events.size() == 2 &&
                  events[0].entry().key() == "a/2" && events[1].entry().revision() == 4,
              "changes since 2 under a/");
    events.clear();
    ctx.Check(absl::IsOutOfRange(store.ChangesSince(1, "", &events)) && events.empty(),
              "revision 1 fell out of a 3-change history");
    ctx.Check(store.ChangesSince(5, "", &events).ok() && events.empty(), "nothing after 4");
  });
}

TEST(StoreTest, WaitForChangeWakesOnAChangeOrWhenTheCallEnds) {
  WithStore({}, [](Store& store, drpc::sim::SimContext& ctx) {
    drpc::Signal woke(ctx.env());
    DRPC_CHECK_OK(ctx.env().scheduler().Spawn("watcher", [&] {
      drpc::CallContext call(ctx.env());
      woke.Set(store.WaitForChange(call, 0));
    }));
    drpc::SleepFor(ctx.env(), drpc::Duration::Millis(5));
    ctx.Check(!woke.IsSet(), "no change yet");
    store.Put("k", "v").IgnoreError();
    woke.Wait("test");
    ctx.Check(woke.status().ok(), woke.status().ToString());

    drpc::CallContext call(ctx.env());
    call.SetTimeout(drpc::Duration::Millis(10));
    const absl::Status timed_out = store.WaitForChange(call, store.revision());
    ctx.Check(absl::IsDeadlineExceeded(timed_out), timed_out.ToString());
  });
}

}  // namespace
}  // namespace kv
