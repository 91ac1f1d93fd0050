// BUGGIFY for the simulator (FoundationDB's idea): impl/ asks Env::chaos().Buggify("site") at
// points where rare-but-legal behaviour is possible (a short write, an early flush, a tiny buffer).
// Per run, each site is switched on with probability 1/4 the first time it is asked; a switched-on
// site then fires with probability 1/4 per call. Both are decisions on the tape, so replays agree.
#ifndef DRPC_SIM_CHAOS_H_
#define DRPC_SIM_CHAOS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "sim/recorder.h"
#include "sim/tape.h"

namespace drpc::sim {

// The simulator's MemoryReturn (impl/env.h): gives nothing back, counts the trims the Env's
// MemoryReturnThrottle (impl/trim_throttle.h, production's rule on the run's clock) made, so a test
// can check when a connection returns memory and when the trims happen.
class SimMemoryReturn final : public MemoryReturn {
 public:
  void Trim() override { ++trims_; }
  uint64_t trims() const { return trims_; }

 private:
  uint64_t trims_ = 0;
};

class SimChaos final : public Chaos {
 public:
  // `enabled` false makes every answer "no" without consuming decisions.
  SimChaos(DecisionSource& decisions, bool enabled)
      : Chaos(/*may_fire=*/enabled), decisions_(&decisions), enabled_(enabled) {}

  void set_enabled(bool enabled) {
    enabled_ = enabled;
    set_may_fire(enabled);
  }
  bool enabled() const { return enabled_; }

  uint64_t ChooseRare(absl::string_view site, uint64_t n) override;
  // Recorded whether or not chaos is enabled: situations are observations, not decisions.
  void Reach(Situation situation) override {
    reached_.emplace(situation.name());
    if (recorder_ != nullptr) recorder_->Reach(clock_->Now(), situation.name());
  }
  // Reached situations also go to `recorder` (stamped with `clock`'s time).
  void set_recorder(Recorder* recorder, const Clock* clock) {
    recorder_ = recorder;
    clock_ = clock;
  }

  // Situations impl/ reported with Reach in this run.
  const std::set<std::string, std::less<>>& reached() const { return reached_; }

  // How often each site fired in this run (sites asked but never fired map to 0).
  const std::map<std::string, uint64_t, std::less<>>& fired() const { return fired_; }

 private:
  // Asked only when enabled (Chaos::Buggify checks the flag inline).
  bool BuggifyDrawn(absl::string_view site) override;

  DecisionSource* decisions_;
  bool enabled_;
  std::map<std::string, bool, std::less<>> site_enabled_;
  std::map<std::string, uint64_t, std::less<>> fired_;
  std::set<std::string, std::less<>> reached_;
  Recorder* recorder_ = nullptr;
  const Clock* clock_ = nullptr;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_CHAOS_H_
