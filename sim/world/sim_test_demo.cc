// Simulation tests that the command-line test of sim_test.h (sim_test_cli_test.sh) drives: one
// that passes, and one (disabled unless asked for) that fails for about a quarter of its seeds.
#include "absl/strings/str_cat.h"
#include "impl/router.h"
#include "impl/testing/echo_service.h"
#include "proto/base/check.h"
#include "sim/world/sim_test.h"

namespace drpc::sim {
namespace {

constexpr Situation kCutDuringCalls("demo.cut_during_calls");

void EchoScenario(World& world, int* replies) {
  world.AddNode("server", [](Node& node) {
    DRPC_CHECK_OK(node.Serve(node.Make<Router>(testing::EchoRouter())));
  });
  world.Sleep(Duration::Millis(1));
  world.AddNode("client", [replies](Node& node) {
    ClientConn& conn = node.Connect("server");
    DRPC_CHECK_OK(node.Go("caller", [&node, &conn, replies] {
      for (int i = 0; i < 20 && !node.context().done(); ++i) {
        CallContext ctx(node.env(), node.context());
        ctx.SetTimeout(Duration::Millis(20));
        if (conn.Invoke(ctx, "/interop.Echo/Unary", absl::StrCat("m", i)).ok()) ++*replies;
        SleepFor(node.env(), Duration::Millis(2));
      }
    }));
  });
  if (world.Chance("demo.cut", 500)) {
    world.Reach(kCutDuringCalls);
    world.Cut("client", "server");
    world.Sleep(Duration::Millis(10));
    world.HealAll();
  }
}

DRPC_SIM_TEST(SimTestDemo, EchoCallsSucceed, .seeds = 20, .situations = {kCutDuringCalls}) {
  int replies = 0;
  EchoScenario(world, &replies);
  world.Eventually("some calls succeed", [&] { return replies > 0; }, Duration::Seconds(2));
}

DRPC_SIM_TEST(SimTestDemo, DISABLED_FailsForSomeSeeds, .seeds = 30,
              .replay_flags = "--//sim/world:demo_flag") {
  int replies = 0;
  EchoScenario(world, &replies);
  world.Eventually("some calls succeed", [&] { return replies > 0; }, Duration::Seconds(2));
  world.Check(world.Choose("demo.unlucky", 4) != 0, "an unlucky seed (planted failure)");
}

}  // namespace
}  // namespace drpc::sim
