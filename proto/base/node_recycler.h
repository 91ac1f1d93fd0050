// NodeRecycler: keeps the nodes of a std::map's erased entries, up to a bound, for its next
// inserts. A connection keeps per-stream state in ordered maps (deterministic iteration); a unary
// call inserts and erases one entry in each, so without this every call allocates and frees a
// node per map on each side of the connection.
//
//   std::map<uint64_t, StreamState> streams;
//   NodeRecycler<std::map<uint64_t, StreamState>> spare(/*keep_max_count=*/8);
//   auto it = spare.Emplace(streams, id);   // a default StreamState, in a kept node if any
//   spare.Erase(streams, it);               // the value is destroyed now; the node is kept
//
// An erased value is destroyed at once (what it owns is released when std::map::erase would
// release it) and a default one built in the kept node; Emplace starts from a fresh default value
// too. So a kept node holds only a default-constructed value, and at most keep_max_count of them
// are kept (0: none). Not thread-safe, like the maps it serves.
#ifndef DRPC_PROTO_BASE_NODE_RECYCLER_H_
#define DRPC_PROTO_BASE_NODE_RECYCLER_H_

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "proto/base/check.h"

namespace drpc {

template <typename Map>
class NodeRecycler {
 public:
  using Key = typename Map::key_type;
  using Value = typename Map::mapped_type;

  explicit NodeRecycler(size_t keep_max_count) : keep_max_count_(keep_max_count) {}
  NodeRecycler(const NodeRecycler&) = delete;
  NodeRecycler& operator=(const NodeRecycler&) = delete;

  // Inserts `key` with a default-constructed value; the key must not be in `map`.
  typename Map::iterator Emplace(Map& map, const Key& key) {
    if (spare_.empty()) {
      auto [it, inserted] = map.try_emplace(key);
      DRPC_DCHECK(inserted);
      return it;
    }
    typename Map::node_type node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = key;
    auto result = map.insert(std::move(node));
    DRPC_DCHECK(result.inserted);
    return result.position;
  }

  // Erases the entry at `it` (keeping its node if under the bound); returns the next iterator.
  typename Map::iterator Erase(Map& map, typename Map::iterator it) {
    if (spare_.size() >= keep_max_count_) return map.erase(it);
    auto next = std::next(it);
    typename Map::node_type node = map.extract(it);
    Value& value = node.mapped();
    std::destroy_at(&value);
    ::new (static_cast<void*>(&value)) Value();
    if (spare_.capacity() == 0) spare_.reserve(keep_max_count_);  // one allocation, ever
    spare_.push_back(std::move(node));
    return next;
  }

  // Frees the kept nodes (a connection gone idle).
  void Clear() { std::vector<typename Map::node_type>().swap(spare_); }

  size_t kept_count() const { return spare_.size(); }
  size_t keep_max_count() const { return keep_max_count_; }

 private:
  size_t keep_max_count_;
  std::vector<typename Map::node_type> spare_;
};

}  // namespace drpc

#endif  // DRPC_PROTO_BASE_NODE_RECYCLER_H_
