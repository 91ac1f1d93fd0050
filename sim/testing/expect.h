// gtest helpers shared by impl/'s simulator-backed tests: one way to assert that a simulated run
// passed (with the failure class, message and trace tail when it did not), and one way to print a
// frame a RawPeer read, or why the read failed.
//
//   ExpectOk(RunPair(client, server, body, seed), "seed 3");
//   EXPECT_EQ(frame->kind, Kind::kClose) << Describe(frame);
#ifndef DRPC_SIM_TESTING_EXPECT_H_
#define DRPC_SIM_TESTING_EXPECT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/testing/raw_peer.h"
#include "sim/simulation.h"

namespace drpc::testing {

// Records a gtest failure unless `r` passed; `label` (a seed, a mode) prefixes the message.
void ExpectOk(const sim::RunResult& r, absl::string_view label = "");

// The frame, or the status that replaced it, as one line for an assertion message.
std::string Describe(const absl::StatusOr<RawFrame>& frame);

}  // namespace drpc::testing

#endif  // DRPC_SIM_TESTING_EXPECT_H_
