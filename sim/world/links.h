// Partitions between a world's nodes (internal to sim/world; users call World::Cut and friends):
// the table of cut directions, and the transports and listeners that hold a node's bytes while
// their link is cut.
//
//   LinkTable links;
//   links.Cut("a", "b");                       // one way: bytes from a to b are held
//   auto t = std::make_unique<GatedTransport>(links, life_of_b, "b", "a", std::move(raw), "b<-a");
//   t->Read(buf, n);                           // blocks while a->b is cut, then gets the bytes
//
// The model is TCP across a network that drops packets for a while: bytes written into a cut
// direction wait in the network (the writer's buffer fills and it blocks, as a socket's would)
// and arrive, in order, once the link heals; nothing is lost and nothing is reordered. Bytes or an
// end of stream (EOF, reset) that would reach the far end while its inbound direction is cut are
// held until it heals; an error a writer would learn across a cut link is held the same way. A
// connection does not break because of a partition: only the caller's deadline ends a call stuck
// behind one (and a crash, or a Close, ends the connection).
#ifndef DRPC_SIM_WORLD_LINKS_H_
#define DRPC_SIM_WORLD_LINKS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "sim/network.h"
#include "sim/world/incarnation.h"

namespace drpc::sim {

class LinkTable {
 public:
  // Directed: Cut(a, b) holds bytes from a to b only.
  void Cut(absl::string_view from, absl::string_view to);
  void Heal(absl::string_view from, absl::string_view to);
  void HealAll() { cut_.clear(); }
  bool IsCut(absl::string_view from, absl::string_view to) const;
  // Cut in either direction (a connection cannot be set up: its handshake needs both).
  bool IsCutEitherWay(absl::string_view a, absl::string_view b) const {
    return IsCut(a, b) || IsCut(b, a);
  }
  // "a->b" for every cut direction, sorted.
  std::vector<std::string> Describe() const;

  // The node that dialled simulated connection `connection` ("" if no node did: the world's own
  // probes, which no partition holds).
  void SetOrigin(uint64_t connection, std::string node) { origin_[connection] = std::move(node); }
  std::string OriginOf(uint64_t connection) const;

 private:
  std::set<std::pair<std::string, std::string>, std::less<>> cut_;
  std::map<uint64_t, std::string> origin_;
};

// One end of a connection, on node `me`, to node `peer` (see the top of the file). Registered
// with `life` (closed by its crash); `life` must outlive it.
class GatedTransport final : public Transport {
 public:
  GatedTransport(const LinkTable& links, Incarnation& life, std::string me, std::string peer,
                 std::unique_ptr<Transport> inner);
  ~GatedTransport() override;

  absl::StatusOr<size_t> Read(char* buf, size_t size) override;
  absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans) override;
  absl::Status Write(absl::string_view data) override;
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override;

  Transport& inner() { return *inner_; }

 private:
  // Waits while from->to is cut. kClosedLocally if this end is closed meanwhile.
  absl::Status Hold(const std::string& from, const std::string& to);

  const LinkTable* links_;
  Incarnation* life_;
  std::string me_;
  std::string peer_;
  std::unique_ptr<Transport> inner_;
  uint64_t key_;
  bool closed_ = false;
};

// A listener of node `me`: every accepted connection is a GatedTransport towards the node that
// dialled it (LinkTable::OriginOf). Registered with `life` like a transport.
class GatedListener final : public Listener {
 public:
  GatedListener(const LinkTable& links, const SimNetwork& network, Incarnation& life,
                std::string me, std::unique_ptr<Listener> inner, std::string address);
  ~GatedListener() override;
  absl::StatusOr<std::unique_ptr<Transport>> Accept() override;
  void Close() override { inner_->Close(); }

 private:
  const LinkTable* links_;
  const SimNetwork* network_;
  Incarnation* life_;
  std::string me_;
  std::unique_ptr<Listener> inner_;
  uint64_t key_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_WORLD_LINKS_H_
