#include "sim/testing/harness.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::testing {

sim::RunOptions ScriptedRunOptions() {
  sim::RunOptions options;
  options.policy = sim::PolicySpec::RandomFibersFirst();
  options.trace = {.echo = false, .ring_max_lines = 100};
  return options;
}

sim::RunResult RunPair(const Options& client_options, const Options& server_options,
                       std::function<void(Pair&, sim::SimContext&)> body, uint64_t seed,
                       const Handler* handler, std::optional<sim::FaultPlan> plan,
                       const sim::NetworkOptions& network) {
  const Router echo = EchoRouter();
  if (handler == nullptr) handler = &echo;
  sim::RunOptions options = ScriptedRunOptions();
  return sim::RunSeed(
      [&](sim::SimContext& sim) {
        Env& env = sim.env();
        sim.network().set_options(network);
        auto [client_end, server_end] = sim.network().Pipe("conn", plan);
        Pair pair;
        pair.sim_ = &sim;
        pair.server_ = std::make_unique<Server>(env, *handler, server_options);
        WaitGroup served(env);
        served.Add();
        DRPC_CHECK_OK(env.scheduler().Spawn("server conn", [&, t = std::move(server_end)]() mutable {
          pair.server_->ServeConn(std::move(t)).IgnoreError();
          served.Done();
        }));
        absl::StatusOr<std::unique_ptr<Conn>> conn =
            Conn::Create(env, std::move(client_end), client_options);
        sim.Check(conn.ok(), absl::StrCat("Conn::Create: ", conn.status().ToString()));
        pair.conn_ = *std::move(conn);
        pair.ctx_ = std::make_unique<CallContext>(env);
        body(pair, sim);
        pair.ctx_.reset();
        pair.conn_->Close();
        pair.server_->Shutdown(env.clock().Now() + Duration::Seconds(1));
        served.Wait("test: waiting for the server connection");
        pair.conn_.reset();
        pair.server_.reset();
      },
      seed, options);
}

}  // namespace drpc::testing
