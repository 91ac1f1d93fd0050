// Scenarios that exist only to test the simulator's tooling (sweeps, tools/sim exit codes). They
// live in //sim:test_scenarios, which //tools:sim does not link, so `--all` never runs them.
//
//   test.crash  its first decision ("test.outcome", 4 ways) picks the run's fate: 0 fails a
//               DRPC_CHECK (a crash), 1 fails an oracle (correctness), 2 and 3 pass. Tests predict
//               a seed's class with SeededDecisions(seed).Choose("test.outcome", 4).
//   test.blind  always passes and reaches "test.often" on every seed, but also lists
//               "test.never", which no run reaches: its sweeps are blind.
#include "proto/base/check.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

void CrashScenario(SimContext& ctx) {
  const uint64_t outcome = ctx.Choose("test.outcome", 4);
  ctx.env().scheduler().Yield();  // fail inside a fiber that has been suspended and resumed
  DRPC_CHECK_NE(outcome, 0u) << "deliberate crash (test.outcome 0)";
  ctx.Check(outcome != 1, "deliberate correctness failure (test.outcome 1)");
}

constexpr Situation kOften{"test.often"};
constexpr Situation kNever{"test.never"};

void BlindScenario(SimContext& ctx) { ctx.Reach(kOften); }

}  // namespace

DRPC_SIM_SCENARIO(test_blind,
                  {.name = "test.blind",
                   .description = "passes but never reaches a situation it lists (tooling tests)",
                   .body = BlindScenario,
                   .situations = {kOften, kNever},
                   .default_seeds = 5,
                   .expect_failure = true});

DRPC_SIM_SCENARIO(test_crash,
                  {.name = "test.crash",
                   .description = "fails a DRPC_CHECK for a quarter of the seeds (tooling tests)",
                   .body = CrashScenario,
                   .default_seeds = 40,
                   .expect_failure = true});

}  // namespace drpc::sim
