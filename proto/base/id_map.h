// IdMap: per-stream state of a mux connection by stream ID, ordered by ID, cheap while a
// connection has few streams. A unary call inserts one entry and erases it again in each of the
// connection's tables, and looks its stream up once per frame; a std::map spends most of that in
// node rebalancing.
//
//   IdMap<StreamState> streams(/*spare_max_count=*/8);
//   StreamState& s = streams.Insert(id);        // a default value; `id` must be absent
//   if (StreamState* found = streams.Find(id)) ...
//   streams.ForEach([](uint64_t id, StreamState& s) { ... });  // rising IDs
//   streams.Erase(id);                          // the value is destroyed now
//
// Values live in nodes that never move while their entry exists (references and pointers stay
// valid until its Erase), so a caller may hold one across other inserts and erases. Up to
// kFlatMaxCount entries are indexed by a sorted inline array (linear search); beyond, by a
// std::map, so every operation stays O(log n) in the number of entries whatever IDs a peer picks.
// Erased nodes are kept for later inserts (at most spare_max_count, holding a default value), so
// a connection running one call after another allocates none. A value's destructor must not use
// its map: values are destroyed while Erase, EraseIf and Clear are under way. Not thread-safe.
#ifndef DRPC_PROTO_BASE_ID_MAP_H_
#define DRPC_PROTO_BASE_ID_MAP_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <utility>

#include "absl/base/attributes.h"
#include "proto/base/check.h"

namespace drpc {

template <typename V>
class IdMap {
 public:
  // Entries indexed by the inline array; the std::map takes over beyond it and hands back once
  // the map is down to half of it (hysteresis: a size oscillating at the edge does not flip).
  static constexpr size_t kFlatMaxCount = 8;

  explicit IdMap(size_t spare_max_count) : spare_max_count_(spare_max_count) {}
  IdMap(const IdMap&) = delete;
  IdMap& operator=(const IdMap&) = delete;
  ~IdMap() {
    Clear();
    while (spare_ != nullptr) delete std::exchange(spare_, spare_->next_spare);
  }

  size_t size() const { return big_ ? map_.size() : flat_count_; }
  bool empty() const { return size() == 0; }
  bool contains(uint64_t id) const { return Find(id) != nullptr; }

  V* Find(uint64_t id) {
    Node* n = FindNode(id);
    return n == nullptr ? nullptr : &n->value;
  }
  const V* Find(uint64_t id) const { return const_cast<IdMap*>(this)->Find(id); }

  // Inserts `id` (which must be absent) with a default-constructed value.
  V& Insert(uint64_t id) {
    if (big_ || flat_count_ == kFlatMaxCount) return InsertInMap(id);
    Node* n = TakeNode(id);
    size_t i = flat_count_;
    // IDs usually rise: the new entry goes last, nothing moves.
    for (; i > 0 && flat_[i - 1]->id >= id; --i) {
      DRPC_CHECK(flat_[i - 1]->id != id) << "ID " << id << " inserted twice";
      flat_[i] = flat_[i - 1];
    }
    flat_[i] = n;
    ++flat_count_;
    return n->value;
  }

  // Erases `id`'s entry if there is one (its value is destroyed now); returns whether it was.
  bool Erase(uint64_t id) {
    if (big_) return EraseInMap(id);
    size_t i = 0;
    while (i < flat_count_ && flat_[i]->id != id) ++i;
    if (i == flat_count_) return false;
    Node* n = flat_[i];
    for (--flat_count_; i < flat_count_; ++i) flat_[i] = flat_[i + 1];
    GiveBack(n);
    return true;
  }

  // Calls f(id, value) for every entry, by rising ID. `f` must not insert or erase.
  template <typename F>
  void ForEach(F&& f) {
    if (big_) {
      for (auto& [id, n] : map_) f(id, n->value);
    } else {
      for (size_t i = 0; i < flat_count_; ++i) f(flat_[i]->id, flat_[i]->value);
    }
  }
  template <typename F>
  void ForEach(F&& f) const {
    const_cast<IdMap*>(this)->ForEach(
        [&f](uint64_t id, V& value) { f(id, static_cast<const V&>(value)); });
  }

  // Erases every entry for which pred(id, value) is true, by rising ID (pred must not insert or
  // erase).
  template <typename P>
  void EraseIf(P&& pred) {
    if (big_) {
      for (auto it = map_.begin(); it != map_.end();) {
        if (!pred(it->first, it->second->value)) {
          ++it;
          continue;
        }
        Node* n = it->second;
        it = map_.erase(it);
        GiveBack(n);
      }
      if (map_.size() <= kFlatMaxCount / 2) ToFlat();
      return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < flat_count_; ++i) {
      if (pred(flat_[i]->id, flat_[i]->value)) {
        GiveBack(flat_[i]);
      } else {
        flat_[kept++] = flat_[i];
      }
    }
    flat_count_ = kept;
  }

  void Clear() {
    EraseIf([](uint64_t, const V&) { return true; });
  }

  size_t spare_count() const { return spare_count_; }

 private:
  struct Node {
    uint64_t id = 0;
    V value;
    Node* next_spare = nullptr;
  };

  // The std::map's paths are kept out of line: the inline array's stay small.
  Node* FindNode(uint64_t id) {
    if (big_) return FindInMap(id);
    for (size_t i = 0; i < flat_count_; ++i) {
      if (flat_[i]->id == id) return flat_[i];
    }
    return nullptr;
  }
  ABSL_ATTRIBUTE_NOINLINE Node* FindInMap(uint64_t id) {
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second;
  }
  ABSL_ATTRIBUTE_NOINLINE V& InsertInMap(uint64_t id) {
    if (!big_) ToMap();
    Node* n = TakeNode(id);
    const bool inserted = map_.emplace(id, n).second;
    DRPC_CHECK(inserted) << "ID " << id << " inserted twice";
    return n->value;
  }
  ABSL_ATTRIBUTE_NOINLINE bool EraseInMap(uint64_t id) {
    auto it = map_.find(id);
    if (it == map_.end()) return false;
    Node* n = it->second;
    map_.erase(it);
    if (map_.size() <= kFlatMaxCount / 2) ToFlat();
    GiveBack(n);
    return true;
  }
  Node* TakeNode(uint64_t id) {
    Node* n = spare_;
    if (n != nullptr) {
      spare_ = n->next_spare;
      --spare_count_;
    } else {
      n = new Node;
    }
    n->id = id;
    return n;
  }
  // A kept node holds a default value, as a new one would.
  void GiveBack(Node* n) {
    if (spare_count_ >= spare_max_count_) {
      delete n;
      return;
    }
    std::destroy_at(&n->value);
    ::new (static_cast<void*>(&n->value)) V();
    n->next_spare = spare_;
    spare_ = n;
    ++spare_count_;
  }
  void ToMap() {
    for (size_t i = 0; i < flat_count_; ++i) map_.emplace(flat_[i]->id, flat_[i]);
    flat_count_ = 0;
    big_ = true;
  }
  void ToFlat() {
    DRPC_DCHECK_LE(map_.size(), kFlatMaxCount);
    flat_count_ = 0;
    for (auto& [id, n] : map_) flat_[flat_count_++] = n;
    map_.clear();
    big_ = false;
  }

  Node* flat_[kFlatMaxCount];  // the first flat_count_ entries, by rising ID, while !big_
  size_t flat_count_ = 0;
  bool big_ = false;
  std::map<uint64_t, Node*> map_;  // every entry while big_
  Node* spare_ = nullptr;          // kept nodes, linked through next_spare
  size_t spare_count_ = 0;
  size_t spare_max_count_;
};

}  // namespace drpc

#endif  // DRPC_PROTO_BASE_ID_MAP_H_
