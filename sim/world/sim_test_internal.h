// Internals of sim_test.cc and sim_test_runs.cc (not part of the API: see sim_test.h).
#ifndef DRPC_SIM_WORLD_SIM_TEST_INTERNAL_H_
#define DRPC_SIM_WORLD_SIM_TEST_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/world/sim_test.h"

namespace drpc::sim::sim_test_internal {

// The environment variable `name`, or "".
std::string EnvOrEmpty(const char* name);
// TEST_UNDECLARED_OUTPUTS_DIR, else /tmp/drpc-sim.
std::string OutputDir();
// `path` if absolute, else under OutputDir() (a test runs in its runfiles directory).
std::string OutputPath(absl::string_view path);
// Where `file`, written to OutputDir(), is found once the test is over.
std::string OutputLocation(absl::string_view file);
// A path where `file`, written to OutputDir(), can be read by a later run, and in `*copy` the
// shell command that puts it there once this test is over ("" when it is there already).
std::string CopiedOut(absl::string_view file, std::string* copy);
// The options of one run of this test.
RunOptions RunOptionsFor(const SimTestOptions& options, bool trace, absl::string_view replay);
// The replay line with `arg` ("--seed=17", "--tape=/tmp/x.tape") as the test's argument.
std::string ReplayWith(absl::string_view test, absl::string_view arg,
                       const SimTestOptions& options);

// The modes of RunSimTest (sim_test.h) besides the sweep.
void RunOneSeed(const ScenarioSpec& spec, const SimTestOptions& options, uint64_t seed);
void RunTape(const ScenarioSpec& spec, const SimTestOptions& options);
void RunShrink(const ScenarioSpec& spec, const SimTestOptions& options);

}  // namespace drpc::sim::sim_test_internal

#endif  // DRPC_SIM_WORLD_SIM_TEST_INTERNAL_H_
