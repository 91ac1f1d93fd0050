// Toy scenarios that prove the simulator itself works (issue: the Env seam and the runtime):
//   toy.ping_pong     length-prefixed echo over the simulated network, with per-seed link
//                     profiles and fault plans; after healing, a fresh connection must succeed.
//   toy.interleave    fibers appending to a shared log; many seeds give many orders.
//   toy.racy_counter  a lost update across a yield (expected to fail: the sweep must catch it).
//   toy.lock_order    two locks taken in opposite orders (expected to deadlock in some runs).
// Also the message framing the ping-pong uses, for tests that drive transports directly.
#ifndef DRPC_SIM_TOYS_H_
#define DRPC_SIM_TOYS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace drpc::sim {

// A 4-byte big-endian length, then the body, in one Write.
absl::Status WriteMessage(Transport& t, absl::string_view body);
// Reads one message; loops over partial reads. Bodies over 16 MiB are an error.
absl::StatusOr<std::string> ReadMessage(Transport& t);

struct PingPongReport {
  int rounds_ok = 0;
  std::optional<absl::Status> first_error;  // first transport error of the faulty phase
};

// One ping-pong exchange of `rounds` messages of `size` bytes over a connection with `plan`
// (nullopt: drawn from the tape), then a clean exchange after healing. Usable from tests.
PingPongReport RunPingPong(SimContext& ctx, int rounds, size_t size, std::optional<FaultPlan> plan);

}  // namespace drpc::sim

#endif  // DRPC_SIM_TOYS_H_
