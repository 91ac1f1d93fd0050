#include "sim/world/links.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace drpc::sim {

void LinkTable::Cut(absl::string_view from, absl::string_view to) {
  cut_.emplace(std::string(from), std::string(to));
}

void LinkTable::Heal(absl::string_view from, absl::string_view to) {
  cut_.erase(std::make_pair(std::string(from), std::string(to)));
}

bool LinkTable::IsCut(absl::string_view from, absl::string_view to) const {
  if (cut_.empty() || from.empty() || to.empty()) return false;
  return cut_.contains(std::make_pair(std::string(from), std::string(to)));
}

std::vector<std::string> LinkTable::Describe() const {
  std::vector<std::string> out;
  for (const auto& [from, to] : cut_) out.push_back(absl::StrCat(from, "->", to));
  return out;
}

std::string LinkTable::OriginOf(uint64_t connection) const {
  auto it = origin_.find(connection);
  return it == origin_.end() ? "" : it->second;
}

// --- GatedTransport -------------------------------------------------------------------------------

GatedTransport::GatedTransport(const LinkTable& links, Incarnation& life, std::string me,
                               std::string peer, std::unique_ptr<Transport> inner)
    : links_(&links),
      life_(&life),
      me_(std::move(me)),
      peer_(std::move(peer)),
      inner_(std::move(inner)) {
  DRPC_CHECK(inner_ != nullptr);
  key_ = life_->Register(absl::StrCat("a connection between ", me_, " and ",
                                      peer_.empty() ? "the world" : peer_),
                         [this] { Close(); });
}

GatedTransport::~GatedTransport() {
  life_->Unregister(key_);
  Close();
}

absl::Status GatedTransport::Hold(const std::string& from, const std::string& to) {
  while (links_->IsCut(from, to)) {
    if (closed_) break;
    life_->links_changed().Wait(peer_ == from ? "net read: held by a cut link"
                                              : "net write: held by a cut link");
  }
  if (closed_) return TransportError(TransportErrorKind::kClosedLocally, "closed while held");
  return absl::OkStatus();
}

absl::StatusOr<size_t> GatedTransport::Read(char* buf, size_t size) {
  if (absl::Status held = Hold(peer_, me_); !held.ok()) return held;
  absl::StatusOr<size_t> n = inner_->Read(buf, size);
  // What arrived while the link was (or became) cut is delivered when it heals.
  if (absl::Status held = Hold(peer_, me_); !held.ok()) return held;
  return n;
}

absl::StatusOr<size_t> GatedTransport::ReadV(absl::Span<const absl::Span<char>> spans) {
  if (absl::Status held = Hold(peer_, me_); !held.ok()) return held;
  absl::StatusOr<size_t> n = inner_->ReadV(spans);
  if (absl::Status held = Hold(peer_, me_); !held.ok()) return held;
  return n;
}

absl::Status GatedTransport::Write(absl::string_view data) {
  absl::Status s = inner_->Write(data);
  if (!s.ok()) {
    // A broken connection is learnt from the far end: not across a cut link.
    if (absl::Status held = Hold(me_, peer_); !held.ok()) return held;
  }
  return s;
}

void GatedTransport::Close() {
  if (closed_) return;
  closed_ = true;
  inner_->Close();
  life_->links_changed().WakeAll();  // our own fibers held by a cut see the close
}

// --- GatedListener --------------------------------------------------------------------------------

GatedListener::GatedListener(const LinkTable& links, const SimNetwork& network, Incarnation& life,
                             std::string me, std::unique_ptr<Listener> inner, std::string address)
    : links_(&links), network_(&network), life_(&life), me_(std::move(me)), inner_(std::move(inner)) {
  key_ = life_->Register(absl::StrCat("listener ", address), [this] { inner_->Close(); });
}

GatedListener::~GatedListener() {
  life_->Unregister(key_);
  inner_->Close();
}

absl::StatusOr<std::unique_ptr<Transport>> GatedListener::Accept() {
  absl::StatusOr<std::unique_ptr<Transport>> t = inner_->Accept();
  if (!t.ok()) return t.status();
  std::optional<SimNetwork::EndpointId> id = network_->IdentifyEndpoint(**t);
  DRPC_CHECK(id.has_value()) << "a world listener accepted a transport of another network";
  return std::make_unique<GatedTransport>(*links_, *life_, me_, links_->OriginOf(id->connection),
                                          *std::move(t));
}

}  // namespace drpc::sim
