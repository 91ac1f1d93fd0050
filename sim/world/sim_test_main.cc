// main() of simulation tests (sim_test.h): Bazel sharding by seed, then gtest, then the
// simulation flags (--seed, --seeds, --first_seed, --tape, --trace, --jobs).
#include <cstdio>

#include "gtest/gtest.h"
#include "sim/world/sim_test.h"

int main(int argc, char** argv) {
  drpc::sim::SimTestFlags& flags = drpc::sim::GlobalSimTestFlags();
  drpc::sim::PrepareSharding(flags);
  ::testing::InitGoogleTest(&argc, argv);
  if (absl::Status s = drpc::sim::ParseSimTestFlags(argc, argv, flags); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  return RUN_ALL_TESTS();
}
