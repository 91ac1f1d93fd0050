#include "sim/chaos.h"

#include "proto/base/check.h"

namespace drpc::sim {

bool SimChaos::BuggifyDrawn(absl::string_view site) {
  DRPC_DCHECK(enabled_);
  auto it = site_enabled_.find(site);
  if (it == site_enabled_.end()) {
    const bool on = decisions_->Choose("chaos.enable", 4) == 3;  // 0 is the quiet answer
    it = site_enabled_.emplace(std::string(site), on).first;
    fired_.emplace(std::string(site), 0);
  }
  if (!it->second) return false;
  if (decisions_->Choose("chaos.fire", 4) != 3) return false;
  ++fired_.find(site)->second;
  return true;
}

uint64_t SimChaos::ChooseRare(absl::string_view, uint64_t n) {
  if (!enabled_) return 0;
  return decisions_->Choose("chaos.choose", n);
}

}  // namespace drpc::sim
