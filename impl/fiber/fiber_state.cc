#include "impl/fiber/fiber_state.h"

namespace drpc {

absl::string_view FiberState::Name() const {
  switch (phase_) {
    case Phase::kRunnable:
      return "runnable";
    case Phase::kRunning:
      return "running";
    case Phase::kParked:
      return "parked";
    case Phase::kAbandoned:
      return "abandoned";
  }
  return "?";
}

}  // namespace drpc
