// Store: the in-memory state of the key-value example (examples/kv/kv.proto) — keys with revisions
// and a bounded history of changes for watchers. No RPC here: KvService (kv_service.h) serves it.
//
//   kv::Store store(env);
//   absl::StatusOr<int64_t> rev = store.Put("greeting", "hello");   // revision 1
//   absl::StatusOr<std::optional<Entry>> e = store.Get("greeting");
//   std::vector<Event> events;
//   store.ChangesSince(1, "greet", &events);                          // the PUT at revision 1
//   store.WaitForChange(ctx, /*after=*/1);                            // blocks until revision 2
//
// Every change (a put, or a delete of an existing key) takes the next revision, starting at 1.
// Bounded: key and value sizes, the number of keys and the history length are limited
// (Store::Limits); a change over a limit fails with a status and changes nothing. The history
// keeps the last `history_max_count` changes; asking for older ones gives kOutOfRange.
// Like everything on the Env seam, a Store belongs to one Scheduler (impl/env.h): every method is
// called from that scheduler's fibers (one reactor of the production runtime, or the simulator).
// Iteration is ordered (std::map), so runs replay deterministically under simulation.
#ifndef DRPC_EXAMPLES_KV_STORE_H_
#define DRPC_EXAMPLES_KV_STORE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "examples/kv/kv.pb.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/sync.h"

namespace kv {

class Store {
 public:
  struct Limits {
    size_t key_max_bytes = 1024;
    size_t value_max_bytes = 1 << 20;
    size_t keys_max_count = 100000;
    size_t history_max_count = 4096;  // changes kept for watchers
  };

  explicit Store(drpc::Env& env) : Store(env, Limits()) {}
  Store(drpc::Env& env, Limits limits);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The entry of `key`, or nullopt. kInvalidArgument for a key over the limit.
  absl::StatusOr<std::optional<Entry>> Get(absl::string_view key) const;
  // Sets `key`; returns the change's revision. kInvalidArgument for an empty or too long key or a
  // too long value; kResourceExhausted when a new key would exceed keys_max_count.
  absl::StatusOr<int64_t> Put(absl::string_view key, absl::string_view value);
  // Removes `key`; returns the change's revision, or nullopt if the key did not exist.
  absl::StatusOr<std::optional<int64_t>> Delete(absl::string_view key);

  // The revision of the last change (0 before any).
  int64_t revision() const { return revision_; }

  // Appends the changes with revision >= `from` of keys starting with `prefix`, oldest first.
  // kOutOfRange if changes from `from` on are no longer all in the history.
  absl::Status ChangesSince(int64_t from, absl::string_view prefix,
                            std::vector<Event>* out) const;

  // Blocks until the revision is past `after` (OK) or `ctx` is done (ctx.err()).
  absl::Status WaitForChange(drpc::CallContext& ctx, int64_t after);

 private:
  void Record(Event::Type type, const Entry& entry);

  Limits limits_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::deque<Event> history_;  // the last history_max_count changes, by revision
  int64_t revision_ = 0;
  drpc::WaitList changed_;     // fibers in WaitForChange
};

}  // namespace kv

#endif  // DRPC_EXAMPLES_KV_STORE_H_
