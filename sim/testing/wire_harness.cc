#include "sim/testing/wire_harness.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/manager_factory.h"
#include "impl/sync.h"
#include "sim/testing/harness.h"
#include "proto/base/check.h"

namespace drpc::testing {
namespace {

std::string Describe(const std::vector<RawFrame>& frames) {
  std::string out;
  for (const RawFrame& f : frames) absl::StrAppend(&out, "\n    ", f.ToString());
  return out;
}

}  // namespace

void ExpectFrames(sim::SimContext& sim, absl::string_view what, absl::string_view got,
                  const std::vector<RawFrame>& want) {
  absl::StatusOr<std::vector<RawFrame>> decoded = Decode(got);
  const std::string got_text = decoded.ok() ? Describe(*decoded) : decoded.status().ToString();
  sim.Check(got == Encode(want), absl::StrCat(what, ": got", got_text, "\n  want", Describe(want)));
}

sim::RunResult RunClient(const Options& options, std::function<void(ClientSide&)> body,
                         uint64_t seed, const sim::NetworkOptions& network) {
  sim::RunOptions run = ScriptedRunOptions();
  return sim::RunSeed(
      [&](sim::SimContext& sim) {
        sim.network().set_options(network);
        auto [ours, theirs] = sim.network().Pipe("wire");
        auto recording = std::make_unique<RecordingTransport>(std::move(ours));
        auto writes = recording->writes();
        absl::StatusOr<std::unique_ptr<Conn>> conn =
            Conn::Create(sim.env(), std::move(recording), options);
        sim.Check(conn.ok(), conn.status().ToString());
        {
          RawPeer peer(sim.env(), std::move(theirs));
          ClientSide side{**conn, peer, writes, sim};
          body(side);
          (*conn)->Close();
        }
      },
      seed, run);
}

sim::RunResult RunServer(const Options& options, std::function<void(ServerSide&)> body,
                         uint64_t seed, const Router* router, const sim::NetworkOptions& network) {
  const Router echo = EchoRouter();
  if (router == nullptr) router = &echo;
  sim::RunOptions run = ScriptedRunOptions();
  return sim::RunSeed(
      [&](sim::SimContext& sim) {
        Env& env = sim.env();
        sim.network().set_options(network);
        auto [theirs, ours] = sim.network().Pipe("wire");
        auto recording = std::make_unique<RecordingTransport>(std::move(ours));
        auto writes = recording->writes();
        Server server(env, *router, options);
        Signal served(env);
        DRPC_CHECK_OK(env.scheduler().Spawn("server conn", [&, t = std::move(recording)]() mutable {
          served.Set(server.ServeConn(std::move(t)));
        }));
        {
          RawPeer peer(env, std::move(theirs));
          ServerSide side{peer, server, sim, served, writes};
          body(side);
        }
        server.Shutdown(env.clock().Now() + Duration::Seconds(1));
        served.Wait("test: waiting for ServeConn");
      },
      seed, run);
}

sim::RunResult RunManager(const Options& options, Manager::Role role,
                          std::function<void(ManagerSide&)> body, uint64_t seed,
                          const sim::NetworkOptions& network) {
  sim::RunOptions run = ScriptedRunOptions();
  return sim::RunSeed(
      [&](sim::SimContext& sim) {
        sim.network().set_options(network);
        auto [ours, theirs] = sim.network().Pipe("manager");
        absl::StatusOr<std::unique_ptr<Manager>> m =
            CreateManager(sim.env(), std::move(ours), role, options);
        sim.Check(m.ok(), m.status().ToString());
        {
          RawPeer peer(sim.env(), std::move(theirs));
          ManagerSide side{**m, peer, sim};
          body(side);
          (*m)->Close();
        }
      },
      seed, run);
}

}  // namespace drpc::testing
