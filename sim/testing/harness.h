// Test harness for impl/: a client Conn and a Server over one simulated connection, run as a
// simulator scenario (testonly). impl/'s tests run on the simulator through this folder.
//
//   RunPair(options, [](Pair& p, SimContext& ctx) {
//     auto reply = p.conn().Invoke(p.ctx(), "/interop.Echo/Unary", "hi");
//     ctx.Check(reply.ok() && *reply == "hi", "echo");
//   });
//
// The server serves the echo service (impl/testing/echo_service.h) unless the test passes its own
// handler. Both sides are closed and every fiber joined at the end, so the simulator's leak check
// applies.
#ifndef DRPC_SIM_TESTING_HARNESS_H_
#define DRPC_SIM_TESTING_HARNESS_H_

#include <functional>
#include <memory>
#include <optional>

#include "impl/conn.h"
#include "impl/options.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/testing/echo_service.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace drpc::testing {

class Pair {
 public:
  Conn& conn() { return *conn_; }
  Server& server() { return *server_; }
  CallContext& ctx() { return *ctx_; }
  sim::SimContext& sim() { return *sim_; }
  Env& env() { return sim_->env(); }

 private:
  friend sim::RunResult RunPair(const Options&, const Options&,
                                std::function<void(Pair&, sim::SimContext&)>, uint64_t,
                                const Handler*, std::optional<sim::FaultPlan>,
                                const sim::NetworkOptions&);
  std::unique_ptr<Conn> conn_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<CallContext> ctx_;
  sim::SimContext* sim_ = nullptr;
};

// Run options for a scripted test: a random walk over fibers, timers firing only when no fiber is
// runnable, so a step such as "sleep 1 ms, then cancel" happens after the fibers spawned before it
// have run up to their first wait. The swarm of policies and timer interleaving are for the
// scenario sweeps, whose oracles hold under any schedule.
sim::RunOptions ScriptedRunOptions();

// Runs `body` against a fresh client/server pair on the simulator with `seed` and
// ScriptedRunOptions().
sim::RunResult RunPair(const Options& client_options, const Options& server_options,
                       std::function<void(Pair&, sim::SimContext&)> body, uint64_t seed = 1,
                       const Handler* handler = nullptr,
                       std::optional<sim::FaultPlan> plan = sim::FaultPlan::None(),
                       const sim::NetworkOptions& network = sim::NetworkOptions{});

inline Options UpstreamOptions() { return Options{}; }
inline Options MuxOptions() {
  Options o;
  o.mux = true;
  return o;
}

}  // namespace drpc::testing

#endif  // DRPC_SIM_TESTING_HARNESS_H_
